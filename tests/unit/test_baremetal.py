import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioners import cluster
from provisioners.providers.baremetal import BareMetalProvider
from provisioners.providers.base import Node, NodeRequest, ProviderError
from provisioners.spec import SpecError, build_spec
from provisioners.workspace import Workspace
from tests.unit.inventories import GOOD_INI, GOOD_YAML, write

REPO = Path(__file__).resolve().parents[2]
COUNTS = {"masters": 3, "agents": 1, "public_agents": 1}


@pytest.fixture(autouse=True)
def workspaces(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "workspaces"))


def spec_for(inventory, **counts):
    return build_spec(
        {"name": "metal", "provider": "baremetal", **COUNTS, **counts, "baremetal": {"inventory": str(inventory)}}
    )


def provider_for(inventory, **counts):
    spec = spec_for(inventory, **counts)
    return BareMetalProvider(spec, spec.options, public_key=None)


def test_the_spec_needs_an_inventory_and_keeps_it_absolute(tmp_path, monkeypatch):
    with pytest.raises(SpecError) as failure:
        build_spec({"provider": "baremetal"})
    assert failure.value.problems == ["the 'baremetal' section needs 'inventory'."]
    monkeypatch.chdir(tmp_path)
    assert spec_for("site/hosts.yml").options.inventory == str(tmp_path / "site" / "hosts.yml")


def test_list_nodes_gives_the_inventory_s_machines(tmp_path):
    provider = provider_for(write(tmp_path, "hosts.yml", GOOD_YAML))
    provider.check()
    assert provider.list_nodes() == [
        Node("10.0.0.31", "agent", "public", "10.0.0.31", "192.168.0.31", state="listed"),
        Node("agent-1.example.com", "agent", "private", "agent-1.example.com", "agent-1.example.com", state="listed"),
        Node("master-1", "master", "private", "10.0.0.11", "10.0.0.11", state="listed"),
        Node("master-2", "master", "private", "10.0.0.12", "10.0.0.12", state="listed"),
        Node("master-3", "master", "private", "10.0.0.13", "10.0.0.13", state="listed"),
    ]


def test_the_users_ansible_verbosity_does_not_change_what_is_read(tmp_path, monkeypatch):
    # `flotilla image push` run with ANSIBLE_VERBOSITY=3 once read Ansible's
    # version banner where the inventory's JSON was.
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")
    provider = provider_for(write(tmp_path, "hosts.yml", GOOD_YAML))
    assert [node.name for node in provider.list_nodes()][-1] == "master-3"


def test_host_vars_and_group_vars_count_as_ansible_reads_them(tmp_path):
    text = GOOD_YAML.replace("master-3: {ansible_host: 10.0.0.13}", "master-3:")
    inventory = write(tmp_path, "hosts.yml", text)
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "master-3.yml").write_text("ansible_host: 10.0.0.99\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "agents_public.yml").write_text("flotilla_advertise_address: 192.168.7.7\n")
    provider = provider_for(inventory)
    provider.check()
    nodes = {node.name: node for node in provider.list_nodes()}
    assert nodes["master-3"].address == "10.0.0.99"
    # The host's own setting wins over its group's, as in Ansible.
    assert nodes["10.0.0.31"].private_address == "192.168.0.31"
    (tmp_path / "host_vars" / "master-3.yml").unlink()
    with pytest.raises(ProviderError, match="host 'master-3' has no ansible_host"):
        provider_for(inventory).check()


def test_check_lists_every_problem_one_per_line(tmp_path):
    text = GOOD_YAML.replace("master-3: {ansible_host: 10.0.0.13}", "master-3:").replace(
        "agent-1.example.com:", "agent-1.example.com:\n            master-1:"
    )
    path = write(tmp_path, "hosts.yml", text)
    with pytest.raises(ProviderError) as failure:
        provider_for(path).check()
    assert str(failure.value).splitlines() == [
        f"{path}: host 'master-1' is in masters and agents_private; a host is in exactly one of "
        "masters, agents_private, agents_public.",
        f"{path}: host 'master-3' has no ansible_host, and its name is neither an IP address nor a fully "
        "qualified domain name; set ansible_host to the address to reach it at.",
        f"{path}: `flotilla check-inventory {path}` shows each problem's line.",
    ]


def test_even_masters_need_the_inventory_s_own_flag(tmp_path):
    text = GOOD_YAML.replace("        master-3: {ansible_host: 10.0.0.13}\n", "")
    with pytest.raises(ProviderError, match="2 masters tolerate 0 failures.*flotilla_allow_even_masters"):
        provider_for(write(tmp_path, "hosts.yml", text), masters=2, allow_even_masters=True).check()
    allowed = write(tmp_path, "allowed.yml", text + "    flotilla_allow_even_masters: true\n")
    provider_for(allowed, masters=2, allow_even_masters=True).check()


def test_the_spec_must_ask_for_what_the_inventory_lists(tmp_path):
    provider = provider_for(write(tmp_path, "hosts.yml", GOOD_YAML), masters=5, public_agents=1)
    with pytest.raises(ProviderError, match=r"asks for masters: 5 but .* lists masters: 3; .* set masters: 3 in"):
        provider.prepare()
    with pytest.raises(ProviderError, match=r"add hosts \(2 to group masters\) to "):
        provider.create_nodes([NodeRequest("metal-master-4", "master", "private")] * 2)


def test_provision_uses_the_user_s_inventory_as_it_is(tmp_path):
    user_inventory = write(tmp_path, "hosts", GOOD_INI)
    before = user_inventory.read_text()

    inventory = cluster.provision(spec_for(user_inventory, masters=3, agents=1, public_agents=0))

    assert inventory == user_inventory
    assert user_inventory.read_text() == before
    workspace = Workspace("metal")
    # No copy, and no key: the user's inventory says how to reach the machines.
    assert sorted(p.name for p in workspace.path.iterdir()) == ["cluster.yml"]
    # The project's own preflight passes on it, its "machines" reached
    # through a local connection instead of SSH.
    preflight = subprocess.run(
        [
            Path(sys.executable).parent / "ansible-playbook",
            "-i",
            inventory,
            "playbooks/preflight.yml",
            "-e",
            f"ansible_connection=local ansible_python_interpreter={sys.executable}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
    )
    assert preflight.returncode == 0, preflight.stdout + preflight.stderr
    assert "ok=2" in preflight.stdout and "master-3" in preflight.stdout


def test_provision_refuses_a_bad_inventory_or_other_counts_and_leaves_nothing(tmp_path):
    bad = write(tmp_path, "bad.yml", "cluster: {}\n")
    with pytest.raises(ProviderError, match="group 'masters' lists no host"):
        cluster.provision(spec_for(bad))
    assert not Workspace("metal").exists()
    with pytest.raises(ProviderError, match="cannot read the inventory"):
        cluster.provision(spec_for(write(tmp_path, "broken.yml", "cluster: [\n")))
    with pytest.raises(ProviderError, match="public_agents: 0 in the spec"):
        cluster.provision(spec_for(write(tmp_path, "hosts", GOOD_INI)))
    assert not Workspace("metal").exists()


def test_down_only_forgets_the_machines(tmp_path):
    user_inventory = write(tmp_path, "hosts.yml", GOOD_YAML)
    cluster.provision(spec_for(user_inventory))
    assert cluster.down(spec_for(user_inventory)) is False
    assert not Workspace("metal").path.exists()
    assert user_inventory.read_text() == GOOD_YAML


def test_down_forgets_a_cluster_whose_inventory_is_gone(tmp_path):
    user_inventory = write(tmp_path, "hosts.yml", GOOD_YAML)
    cluster.provision(spec_for(user_inventory))
    spec = spec_for(user_inventory)
    user_inventory.unlink()
    assert cluster.down(spec) is False
    assert not Workspace("metal").path.exists()
