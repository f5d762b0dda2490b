"""Bare metal: a hand-written inventory (with group_vars/) drives the same
configuration through `ansible-playbook` and through `flotilla up`.

The "bare metal" machines are made with the local provider (cluster
e2e-metal); the inventory that lists them is written by hand, as a user
would, with agent_labels only in group_vars/all.yml. Every assertion reads
the swarm itself, through a master's own Docker engine. The tests share one
set of machines, bootstrapped once by a fixture, and each runs alone too; a
second agent waits outside the inventory until the scale test adds it.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Machines, flotilla, take_down

NAME = "e2e-metal"
METAL = "e2e-metal-bm"  # the bare metal cluster's name: the same machines, seen through the user's inventory
MASTER = f"{NAME}-master-1"
AGENT = f"{NAME}-agent-1"
SPARE = f"{NAME}-agent-2"  # made, but listed only when the user grows the cluster
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def machines(docker_client):
    try:
        made = flotilla("provision", "--name", NAME, "--masters", "1", "--agents", "2", "--public-agents", "0")
        assert made.returncode == 0, made.stdout + made.stderr
        yield Machines(docker_client, NAME)
    finally:
        take_down(docker_client, NAME)


@pytest.fixture(scope="module")
def site(machines, tmp_path_factory):
    """The user's own inventory directory: hosts.yml and group_vars/all.yml."""
    site = tmp_path_factory.mktemp("site")
    key = machines.workspace.private_key_file
    hosts = {
        "cluster": {
            "children": {
                "masters": {"hosts": {MASTER: {"ansible_host": machines.address(MASTER)}}},
                "agents": {
                    "children": {
                        "agents_private": {"hosts": {AGENT: {"ansible_host": machines.address(AGENT)}}},
                        "agents_public": {"hosts": {}},
                    }
                },
            }
        }
    }
    (site / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    (site / "group_vars").mkdir()
    (site / "group_vars" / "all.yml").write_text(
        yaml.safe_dump(
            {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
                "agent_labels": {"zone": "a"},
            }
        )
    )
    spec = site / "metal.yml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": METAL,
                "provider": "baremetal",
                "masters": 1,
                "agents": 1,
                "public_agents": 0,
                "baremetal": {"inventory": str(site / "hosts.yml")},
            }
        )
    )
    yield site
    flotilla("down", "-f", str(spec))


def agent_labels(machines):
    # A label written by the agent role reaches the manager's list at once;
    # give a busy host a moment all the same.
    deadline = time.monotonic() + 10
    while True:
        labels = machines.members(through=MASTER)[AGENT]["labels"]
        if "zone" in labels or time.monotonic() > deadline:
            return labels
        time.sleep(1)


def ansible_playbook(site, playbook, *args):
    return subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", site / "hosts.yml", playbook, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def bootstrapped(machines, site):
    """The user's way: ansible-playbook -i their inventory site.yml."""
    result = ansible_playbook(site, "site.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_ansible_playbook_with_the_user_s_inventory_applies_group_vars(machines, bootstrapped):
    members = machines.members(through=MASTER)
    assert members[MASTER]["role"] == "manager" and members[AGENT]["role"] == "worker"
    assert agent_labels(machines)["zone"] == "a"


def test_flotilla_up_with_provider_baremetal_uses_the_same_inventory(machines, site, bootstrapped):
    # Changed only in group_vars/: only a run that reads the user's directory sees it.
    all_vars = site / "group_vars" / "all.yml"
    all_vars.write_text(all_vars.read_text().replace("zone: a", "zone: b"))

    result = flotilla("up", "-f", str(site / "metal.yml"))

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert agent_labels(machines)["zone"] == "b"
    # The user's inventory is used as it is: no copy of it, and no key, is kept.
    workspace = Machines(machines.client, METAL).workspace
    assert sorted(p.name for p in workspace.path.iterdir()) == ["cluster.yml"]


def test_status_of_the_bare_metal_cluster(machines, site, bootstrapped):
    result = flotilla("status", "-f", str(site / "metal.yml"))

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:] if line.startswith(NAME)}
    members = machines.members(through=MASTER)
    assert set(rows) == set(members) == {MASTER, AGENT}
    assert rows[MASTER][1:5] == ["master", "private", "listed", "ready/drain/reachable"]
    assert rows[AGENT][1:5] == ["agent", "private", "listed", "ready/active"]
    assert rows[MASTER][5] == "*"


def test_scale_and_remove_on_bare_metal_keep_the_machines(machines, site, bootstrapped):
    spec = site / "metal.yml"
    hosts = yaml.safe_load((site / "hosts.yml").read_text())
    private = hosts["cluster"]["children"]["agents"]["children"]["agents_private"]["hosts"]
    private[SPARE] = {"ansible_host": machines.address(SPARE)}
    (site / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))

    grown = flotilla("scale", "-f", str(spec), "--agents", "2")
    assert grown.returncode == 0, grown.stdout[-3000:] + grown.stderr[-3000:]
    assert machines.members(through=MASTER)[SPARE]["role"] == "worker"

    removed = flotilla("remove", "-f", str(spec), SPARE)
    assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
    assert SPARE not in machines.members(through=MASTER)
    # Bare metal is never deleted: the machine runs on, listed in the user's file.
    assert machines.client.containers.get(SPARE).status == "running"
    assert SPARE in (site / "hosts.yml").read_text()
