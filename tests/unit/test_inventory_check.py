import subprocess
import sys
from pathlib import Path

from provisioners.inventory_check import check_inventory, cluster_hosts, format_problems
from provisioners.inventory_source import Tagged, read_inventory
from tests.unit.inventories import GOOD_INI, GOOD_YAML, write

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventories" / "sample" / "hosts.yml"

# Every rule broken once; the comment on a line is the problem expected there.
BAD_YAML = """\
cluster:
  children:
    masters:                      # even
      hosts:
        m1: {ansible_host: 10.0.0.1}     # twice
        m2:                       # address
          agent_lables: {a: b}    # typo
    agents:
      children:
        agents_private:
          hosts:
            m1:                   # twice
              flotilla_manager: m1    # set by the roles
        extra:                    # child
          hosts:
            x.example.com:        # roleless
  vars:
    ansbile_user: root            # typo
    totally_unrelated: 1          # unknown
"""


def problems_of(path, **kwargs):
    source = read_inventory(path)
    return format_problems(source, check_inventory(source, **kwargs))


def test_a_good_yaml_inventory_passes(tmp_path):
    assert problems_of(write(tmp_path, "hosts.yml", GOOD_YAML)) == []


def test_a_good_ini_inventory_passes_with_ranges_and_ports(tmp_path):
    path = write(tmp_path, "hosts", GOOD_INI)
    assert problems_of(path) == []
    hosts = [(host.name, host.group) for host in cluster_hosts(read_inventory(path))]
    assert hosts == [
        ("master-1.example.com", "masters"),
        ("master-2.example.com", "masters"),
        ("master-3.example.com", "masters"),
        ("agent-1.example.com", "agents_private"),
    ]


def test_the_sample_inventory_passes():
    assert problems_of(SAMPLE) == []


def test_a_bad_inventory_reports_every_problem_on_its_line(tmp_path):
    path = write(tmp_path, "hosts.yml", BAD_YAML)
    found = problems_of(path)
    by_line = {}
    for problem in found:
        line = int(problem.split(":")[1])
        by_line.setdefault(line, []).append(problem)
    assert all(problem.startswith(f"{path}:") for problem in found)
    assert sorted(by_line) == [3, 5, 6, 7, 12, 13, 14, 16, 18, 19]
    assert "2 masters" in by_line[3][0]
    assert "also listed in agents_private (line 12)" in by_line[5][0]
    assert "also listed in masters (line 5)" in by_line[12][0]
    assert "'m2' has no ansible_host" in by_line[6][0]
    assert by_line[7] == [f"{path}:7: unknown variable 'agent_lables' (did you mean 'agent_labels'?)"]
    assert by_line[13] == [
        f"{path}:13: flotilla_manager is set by the master role during a run; remove it from the inventory."
    ]
    assert "group 'agents' has child 'extra'" in by_line[14][0]
    assert "'x.example.com' is in none of masters" in by_line[16][0]
    assert "did you mean 'ansible_user'" in by_line[18][0]
    assert "unknown variable 'totally_unrelated':" in by_line[19][0]


def test_bad_ini_lines_are_reported_and_the_rest_still_checked(tmp_path):
    path = write(
        tmp_path,
        "hosts.ini",
        """\
        [masters]
        m1 ansible_host=10.0.0.1 oops
        [cluster:children]
        masters
        agents
        [agents:weird]
        [nowhere:vars]
        x=1
        [cluster:vars]
        master_timout=60
        """,
    )
    found = problems_of(path)
    assert [int(problem.split(":")[1]) for problem in found] == [2, 5, 6, 7, 8, 10]
    assert "'oops' after host 'm1' is not name=value" in found[0]
    assert "no [agents] section declares" in found[1]
    assert "[agents:weird]" in found[2]
    assert "no [nowhere] section declares" in found[3]
    assert "did you mean 'master_timeout'" in found[5]


def test_a_missing_cluster_group_and_unparsable_yaml(tmp_path):
    assert problems_of(write(tmp_path, "a.yml", "masters:\n  hosts:\n    m1.example.com:\n")) == [
        f"{tmp_path / 'a.yml'}:1: there is no group 'cluster' to hold masters and agents; "
        "see inventories/sample/hosts.yml."
    ]
    [problem] = problems_of(write(tmp_path, "b.yml", "cluster:\n  children: [\n"))
    assert problem.startswith(f"{tmp_path / 'b.yml'}:3: not valid YAML")
    [problem] = problems_of(tmp_path / "missing.yml")
    assert "cannot read the inventory" in problem


def test_even_masters_pass_when_allowed(tmp_path):
    text = GOOD_YAML.replace("        master-3: {ansible_host: 10.0.0.13}\n", "")
    path = write(tmp_path, "hosts.yml", text)
    assert "2 masters" in problems_of(path)[0]
    assert problems_of(path, allow_even_masters=True) == []
    allowed = write(tmp_path, "allowed.yml", text + "    flotilla_allow_even_masters: 'yes'\n")
    assert problems_of(allowed) == []


def test_known_variables_come_from_the_roles_defaults(tmp_path):
    roles = tmp_path / "roles"
    (roles / "extra" / "defaults").mkdir(parents=True)
    (roles / "extra" / "defaults" / "main.yml").write_text("extra_colour: blue\n")
    path = write(tmp_path, "hosts.yml", GOOD_YAML + "    extra_colour: red\n")
    source = read_inventory(path)
    assert check_inventory(source, roles_dir=roles)[0].message.startswith("unknown variable 'agent_labels'")
    assert not [p for p in check_inventory(source, roles_dir=roles) if "extra_colour" in p.message]
    assert [p.line for p in check_inventory(source) if "extra_colour" in p.message] == [21]


def test_vault_values_are_read_not_resolved(tmp_path):
    vaulted = "$ANSIBLE_VAULT;1.1;AES256\n6162\n"
    text = (
        GOOD_YAML
        + "    ansible_become_password: !vault |\n"
        + "".join(f"      {line}\n" for line in vaulted.splitlines())
    )
    source = read_inventory(write(tmp_path, "hosts.yml", text))
    assert source.groups["cluster"].vars["ansible_become_password"].value == Tagged("!vault", vaulted)
    assert check_inventory(source) == []


def test_the_cli_prints_every_problem_and_exits_1(tmp_path):
    bad = write(tmp_path, "hosts.yml", BAD_YAML)
    failed = flotilla("check-inventory", str(bad))
    assert failed.returncode == 1
    assert len(failed.stdout.splitlines()) == 10
    assert f"{bad}:7: unknown variable 'agent_lables' (did you mean 'agent_labels'?)" in failed.stdout.splitlines()

    passed = flotilla("check-inventory", str(SAMPLE))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "no problems (masters: 3, agents_private: 2, agents_public: 1)" in passed.stdout


def flotilla(*args):
    command = [sys.executable, "-c", "from provisioners.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
