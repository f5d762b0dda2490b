"""`flotilla up` brings up 3 masters + 2 private agents + 1 public agent, for real.

Every test reads the one cluster of the module's fixture, and any of them
can run alone; the fixture's teardown checks that `flotilla down` leaves
nothing behind. Where the swarm puts work is read from the swarm itself,
for a service that carries no placement rule of its own.
"""

import time

import pytest

from provisioners import runner
from tests.e2e import workload
from tests.e2e.conftest import cluster_up, flotilla, take_down

NAME = "e2e-boot"
MASTERS = {f"{NAME}-master-{i}" for i in (1, 2, 3)}
AGENTS = {f"{NAME}-agent-1": "private", f"{NAME}-agent-2": "private", f"{NAME}-public-1": "public"}


@pytest.fixture(scope="module")
def machines(docker_client):
    with cluster_up(docker_client, NAME) as machines:
        yield machines


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


def test_a_service_without_placement_rules_runs_on_agents_only_and_answers(machines, docker_client):
    # Every node has the image, so a task put on a master would run there too.
    workload.load_image(machines, workload.build_image(docker_client), MASTERS | set(AGENTS))
    manager = f"{NAME}-master-1"
    # Global: one task on every node the swarm may use.
    workload.create_service(machines, manager, constraint=None, mode="global")
    placed = workload.wait_for_tasks_on(machines, manager, AGENTS)
    assert set(placed) == set(AGENTS), f"tasks on masters: {set(placed) & MASTERS}"
    for node in placed:
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


def test_no_membership_change_starts_once_quorum_is_lost(machines):
    """The last test of the shared cluster: it stops two of its three masters."""
    agent = f"{NAME}-agent-1"
    survivor, *stopped = sorted(MASTERS)
    for master in stopped:
        machines.client.containers.get(master).stop()
    # The survivor notices only when its leader's lease runs out: from then
    # on it cannot list the members, which is what "quorum lost" looks like.
    deadline = time.monotonic() + 60
    while machines.client.containers.get(survivor).exec_run(["docker", "node", "ls"]).exit_code == 0:
        assert time.monotonic() < deadline, f"{survivor} still answers for the swarm after 60 s"
        time.sleep(1)

    result = flotilla("remove", "--name", NAME, agent)

    assert result.returncode == 1
    assert "quorum is lost" in result.stderr, result.stderr[-2000:]
    # No manager can list the members now; the agent itself says it is one.
    state = machines.exec(agent, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    assert state == "active"
    assert machines.client.containers.get(agent).status == "running"


def test_a_master_that_may_run_workloads_gets_tasks(docker_client):
    name = "e2e-mrw"
    master = f"{name}-master-1"
    machines_only = ("--masters", "1", "--agents", "0", "--public-agents", "0")
    with cluster_up(docker_client, name, *machines_only, command="provision") as machines:
        inventory = machines.workspace.inventory_file
        runner.run_playbook(inventory, "playbooks/site.yml", extravars={"master_runs_workloads": True})
        assert machines.members(through=master)[master]["availability"] == "active"
        workload.load_image(machines, workload.build_image(docker_client), [master])
        workload.create_service(machines, master, replicas=1, constraint=None)
        workload.wait_for_replicas(machines, master, replicas=1)
        assert workload.task_nodes(machines, master) == {master: ["running"]}
        assert workload.get(machines.address(master)) == workload.PAGE


def test_down_twice_leaves_nothing(docker_client):
    name = "e2e-down"
    machines_only = ("--masters", "1", "--agents", "0", "--public-agents", "0")
    with cluster_up(docker_client, name, *machines_only, command="provision") as machines:
        made = machines.leftovers()
        assert made["containers"] == [f"{name}-master-1"] and made["networks"] and made["volumes"], made
        take_down(docker_client, name)
        # Leaving the context takes it down a second time, checked the same way.
