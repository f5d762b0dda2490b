"""The `flotilla` command's smaller promises, on one small local cluster:
the inventory it prints, the key's mode, refusals that change nothing, a
re-run that keeps the cluster's counts, the routing-mesh line, and
remove-node.yml run directly. Every check reads Docker or the swarm.
"""

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import cluster_up, flotilla

NAME = "e2e-cli"
MASTER = f"{NAME}-master-1"
AGENT = f"{NAME}-agent-1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def machines(docker_client):
    with cluster_up(docker_client, NAME, "--masters", "1", "--agents", "1", "--public-agents", "0") as machines:
        yield machines


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flotilla: error: "), result.stderr
    return lines[0]


def test_inventory_lists_the_machines_docker_runs(machines):
    result = flotilla("inventory", "--name", NAME)
    assert result.returncode == 0, result.stderr
    groups = yaml.safe_load(result.stdout)["cluster"]["children"]
    hosts = {
        name: values["ansible_host"]
        for group in (groups["masters"], groups["agents"]["children"]["agents_private"])
        for name, values in group["hosts"].items()
    }
    assert hosts == {c.name: machines.address(c.name) for c in machines.containers()}

    path = flotilla("inventory", "--name", NAME, "--path")
    assert Path(path.stdout.strip()) == machines.workspace.inventory_file


def test_only_the_operator_can_read_the_key_and_inventory(machines):
    key = machines.workspace.private_key_file
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(machines.workspace.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(machines.workspace.inventory_file.stat().st_mode) == 0o600


def test_scale_refuses_to_shrink_and_changes_nothing(machines):
    before = machines.leftovers()
    result = flotilla("scale", "--name", NAME, "--agents", "0")
    assert result.returncode == 1
    assert "scale only grows a cluster (agents 0 < 1)" in one_error_line(result)
    assert machines.leftovers() == before


def test_remove_of_an_unknown_node_is_refused_and_changes_nothing(machines):
    before = (machines.leftovers(), machines.members(through=MASTER))
    result = flotilla("remove", "--name", NAME, f"{NAME}-agent-9")
    assert result.returncode == 1
    assert f"lists no machine {NAME}-agent-9" in one_error_line(result)
    assert (machines.leftovers(), machines.members(through=MASTER)) == before


def test_up_again_keeps_the_counts_it_was_made_with(machines):
    before = machines.leftovers()
    result = flotilla("up", "--name", NAME)
    assert result.returncode == 0, result.stderr[-3000:]
    assert machines.leftovers() == before
    machines.assert_membership_matches_inventory(through=MASTER)


def test_status_says_whether_the_routing_mesh_can_work(machines):
    # IPVS is what the routing mesh needs; the kernel is the machines' own.
    has_ipvs = machines.client.containers.get(MASTER).exec_run(["test", "-e", "/proc/net/ip_vs"]).exit_code == 0
    result = flotilla("status", "--name", NAME)
    assert result.returncode == 0, result.stderr
    unavailable = "routing mesh: unavailable (no IPVS in this kernel); publish ports with mode=host."
    assert (unavailable in result.stdout.splitlines()) == (not has_ipvs)


def test_remove_node_playbook_run_directly_keeps_the_machine(machines):
    playbook = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(machines.workspace.inventory_file)]

    refused = subprocess.run([*playbook, "playbooks/remove-node.yml"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "Name the node to remove: -e node=NAME" in refused.stdout
    assert AGENT in machines.members(through=MASTER)

    removed = subprocess.run(
        [*playbook, "playbooks/remove-node.yml", "-e", f"node={AGENT}"], cwd=ROOT, capture_output=True, text=True
    )
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert AGENT not in machines.members(through=MASTER)
    assert machines.client.containers.get(AGENT).status == "running"
