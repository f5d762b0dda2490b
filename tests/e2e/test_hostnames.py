"""An operator's own inventory that names machines by alias: nothing is renamed.

The machines come from the local provider (their hostnames are their
container names); the inventory, written here in INI as a user would, names
them by FQDN aliases. site.yml, scale.yml and remove-node.yml must work with
it while every machine keeps its own hostname, and the swarm knows members
by those hostnames. One chain test: each step needs the one before.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Machines, flotilla, take_down

NAME = "e2e-alias"
# The checkout: ansible-playbook runs here with its ansible.cfg, as a user of the checkout would.
ROOT = Path(__file__).resolve().parents[2]
MASTER = f"{NAME}-master-1"
# alias -> the machine (container, and its own hostname)
ALIASES = {
    "m1.dc1.example.test": MASTER,
    "a1.dc1.example.test": f"{NAME}-agent-1",
}
NEW_ALIAS, NEW_MACHINE = "a2.dc1.example.test", f"{NAME}-agent-2"


def provision(agents):
    result = flotilla("provision", "--name", NAME, "--masters", "1", "--agents", str(agents), "--public-agents", "0")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def machines(docker_client):
    try:
        provision(agents=1)
        yield Machines(docker_client, NAME)
    finally:
        take_down(docker_client, NAME)


def write_ini(machines, path, aliases):
    """The operator's inventory: aliases, the machines' addresses, and the
    generated inventory's SSH settings."""
    settings = yaml.safe_load(machines.workspace.inventory_file.read_text())["cluster"]["vars"]
    line = "{alias} ansible_host={address}".format
    masters = [a for a, m in aliases.items() if "-master-" in m]
    agents = [a for a, m in aliases.items() if "-agent-" in m]
    path.write_text(
        "\n".join(
            [
                "[masters]",
                *(line(alias=a, address=machines.address(aliases[a])) for a in masters),
                "[agents_private]",
                *(line(alias=a, address=machines.address(aliases[a])) for a in agents),
                "[agents_public]",
                "[agents:children]",
                "agents_private",
                "agents_public",
                "[cluster:children]",
                "masters",
                "agents",
                "[cluster:vars]",
                f"ansible_user={settings['ansible_user']}",
                f"ansible_ssh_private_key_file={settings['ansible_ssh_private_key_file']}",
                f'ansible_ssh_common_args="{settings["ansible_ssh_common_args"]}"',
                "",
            ]
        )
    )


def playbook(inventory, name, *args):
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), name, *args]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def assert_no_token(token, output):
    assert token.startswith("SWMTKN-")
    # Say where it leaked without printing it again.
    leaks = [line.replace(token, "<TOKEN>")[:300] for line in output.splitlines() if token in line]
    assert leaks == [], "\n".join(leaks)


def recap(output, host):
    """The PLAY RECAP counters of one host."""
    line = re.search(rf"^{re.escape(host)}\s+:(.*)$", output, re.MULTILINE).group(1)
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def test_aliases_through_site_scale_and_remove(machines, tmp_path):
    inventory = tmp_path / "hosts.ini"
    write_ini(machines, inventory, ALIASES)

    playbook(inventory, "site.yml")

    # Nothing renamed: each machine keeps its own hostname.
    for machine in ALIASES.values():
        assert machines.exec(machine, "hostname").strip() == machine
    # The swarm knows members by those hostnames, and carries the aliases.
    members = machines.members(through=MASTER)
    assert set(members) == set(ALIASES.values())
    assert members[MASTER]["role"] == "manager"
    assert {m["labels"]["flotilla.name"]: h for h, m in members.items()} == ALIASES

    # A third machine, added to the inventory by alias, joins through scale.yml.
    provision(agents=2)
    aliases = {**ALIASES, NEW_ALIAS: NEW_MACHINE}
    write_ini(machines, inventory, aliases)
    output = playbook(inventory, "playbooks/scale.yml", "-vvvv")

    members = machines.members(through=MASTER)
    assert set(members) == set(aliases.values())
    assert members[NEW_MACHINE]["role"] == "worker" and members[NEW_MACHINE]["state"] == "ready"
    assert machines.exec(NEW_MACHINE, "hostname").strip() == NEW_MACHINE
    # The members already there were recognised by their aliases: nothing ran on them.
    assert recap(output, "a1.dc1.example.test")["ok"] == 0
    # The join read the tokens, yet not even -vvvv shows one.
    token = machines.exec(MASTER, "docker", "swarm", "join-token", "-q", "worker").strip()
    assert_no_token(token, output)

    # remove-node.yml takes the inventory name.
    playbook(inventory, "playbooks/remove-node.yml", "-e", f"node={NEW_ALIAS}")
    assert NEW_MACHINE not in machines.members(through=MASTER)
    state = machines.exec(NEW_MACHINE, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    assert state == "inactive"


def test_a_caller_that_forgets_no_log_shows_no_token(machines, tmp_path):
    """cluster_info's result with tokens is hidden even without no_log, at -vvvv."""
    inventory = tmp_path / "hosts.ini"
    write_ini(machines, inventory, {"m1.dc1.example.test": MASTER})
    if "inactive" in machines.exec(MASTER, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}"):
        machines.exec(MASTER, "docker", "swarm", "init", "--advertise-addr", machines.address(MASTER))
    probe = tmp_path / "probe.yml"
    probe.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Read the tokens without no_log",
                    "hosts": "masters",
                    "gather_facts": False,
                    "tasks": [
                        {"flotilla.cluster.cluster_info": {"join_tokens": True}, "register": "leaky"},
                        # The registered variable still holds them, for a join.
                        {"ansible.builtin.assert": {"that": "leaky.join_tokens.worker is match('SWMTKN-')"}},
                    ],
                }
            ]
        )
    )
    output = playbook(inventory, str(probe), "-vvvv")
    token = machines.exec(MASTER, "docker", "swarm", "join-token", "-q", "worker").strip()
    assert_no_token(token, output)
    assert "no_log: true" in output  # Ansible's note that the result was hidden
