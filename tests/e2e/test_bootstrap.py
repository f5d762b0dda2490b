"""`flotilla up` brings up 3 masters + 2 private agents + 1 public agent, for real.

The tests run in order on one cluster; the last one takes it down.
"""

import pytest

from tests.e2e import workload
from tests.e2e.conftest import Machines, flotilla

NAME = "e2e-boot"
MASTERS = {f"{NAME}-master-{i}" for i in (1, 2, 3)}
AGENTS = {f"{NAME}-agent-1": "private", f"{NAME}-agent-2": "private", f"{NAME}-public-1": "public"}


@pytest.fixture(scope="module")
def machines(docker_client):
    result = flotilla("up", "--name", NAME)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield Machines(docker_client, NAME)
    flotilla("down", "--name", NAME)


def test_three_managers_exactly_one_leader_all_reachable(machines):
    for master in sorted(MASTERS):
        members = machines.members(through=master)
        managers = {h: m for h, m in members.items() if m["role"] == "manager"}
        assert set(managers) == MASTERS
        assert {m["reachability"] for m in managers.values()} == {"reachable"}
        assert sum(m["leader"] for m in managers.values()) == 1


def test_agents_are_ready_workers_with_their_pool_labels(machines):
    members = machines.members(through=f"{NAME}-master-2")
    workers = {h: m for h, m in members.items() if m["role"] == "worker"}
    assert set(workers) == set(AGENTS)
    for host, pool in AGENTS.items():
        assert workers[host]["state"] == "ready"
        assert workers[host]["labels"].get("flotilla.pool") == pool


def test_masters_are_drained(machines):
    members = machines.members(through=f"{NAME}-master-3")
    assert {members[m]["availability"] for m in MASTERS} == {"drain"}
    assert {members[a]["availability"] for a in AGENTS} == {"active"}


def test_a_replicated_service_runs_on_agents_only_and_answers(machines, docker_client):
    tarball = workload.build_image(docker_client)
    workload.load_image(machines, tarball, AGENTS)
    manager = f"{NAME}-master-1"
    workload.create_service(machines, manager, replicas=2)
    nodes = workload.wait_for_replicas(machines, manager, replicas=2)
    assert set(nodes) <= set(AGENTS)
    for node in nodes:
        assert workload.get(machines.address(node)) == workload.PAGE


def test_a_second_run_changes_nothing(machines):
    result = machines.site()
    assert set(result.stats["ok"]) >= MASTERS | set(AGENTS)
    assert sum(result.stats.get("changed", {}).values()) == 0, result.stats["changed"]


def test_status_shows_every_node_with_its_role_and_the_leader(machines):
    result = flotilla("status", "--name", NAME)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert set(rows) == MASTERS | set(AGENTS)
    leader = [h for h, m in machines.members(through=f"{NAME}-master-1").items() if m["leader"]]
    assert [h for h, row in rows.items() if "*" in row] == leader
    for master in MASTERS:
        assert rows[master][1] == "master"
        assert rows[master][-1] == machines.address(master)


def test_down_leaves_nothing_behind(machines):
    first = flotilla("down", "--name", NAME)
    second = flotilla("down", "--name", NAME)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert machines.leftovers() == {"containers": [], "networks": [], "volumes": []}
    assert not machines.workspace.path.exists()
