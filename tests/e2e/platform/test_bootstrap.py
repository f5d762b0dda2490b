"""`flotilla up` of the default shape (3 masters, 2 private agents, 1 public
agent) gives the swarm it promises: read from the shared platform cluster,
which is exactly that `up`.

Every node is named from the cluster's inventory, and what the swarm does is
read from the swarm itself, for a service that carries no placement rule.
That a second run changes nothing is proven by the platform's other modules
(site.yml at -vvv); that a lost quorum stops every membership change, by
test_engine_restart's cluster.
"""

import pytest

from tests.e2e import workload

SERVICE = "bootstrap-web"


@pytest.fixture(scope="module")
def groups(platform):
    groups = platform.machines.inventory_groups()
    assert len(groups["masters"]) == 3 and len(groups["agents_private"]) >= 2 and len(groups["agents_public"]) == 1
    return groups


def agents(groups):
    return groups["agents_private"] | groups["agents_public"]


def test_three_managers_exactly_one_leader_all_reachable(platform, groups):
    for master in sorted(groups["masters"]):
        members = platform.machines.members(through=master)
        managers = {h: m for h, m in members.items() if m["role"] == "manager"}
        assert set(managers) == groups["masters"]
        assert {m["reachability"] for m in managers.values()} == {"reachable"}
        assert sum(m["leader"] for m in managers.values()) == 1


def test_agents_are_ready_workers_with_their_pool_labels(platform, groups):
    members = platform.machines.members(through=sorted(groups["masters"])[1])
    workers = {h: m for h, m in members.items() if m["role"] == "worker"}
    assert set(workers) == agents(groups)
    for pool in ("private", "public"):
        for host in groups[f"agents_{pool}"]:
            assert workers[host]["state"] == "ready"
            assert workers[host]["labels"].get("flotilla.pool") == pool


def test_masters_are_drained(platform, groups):
    members = platform.machines.members(through=sorted(groups["masters"])[2])
    assert {members[m]["availability"] for m in groups["masters"]} == {"drain"}
    assert {members[a]["availability"] for a in agents(groups)} == {"active"}


def test_a_service_without_placement_rules_runs_on_agents_only_and_answers(platform, groups, docker_client):
    machines = platform.machines
    # Every node has the image, so a task put on a master would run there too.
    workload.load_image(machines, workload.build_image(docker_client), groups["masters"] | agents(groups))
    manager = sorted(groups["masters"])[0]
    # Global: one task on every node the swarm may use.
    workload.create_service(machines, manager, constraint=None, mode="global", name=SERVICE)
    try:
        placed = workload.wait_for_tasks_on(machines, manager, agents(groups), service=SERVICE)
        assert set(placed) == agents(groups), f"tasks on masters: {set(placed) & groups['masters']}"
        for node in placed:
            assert workload.get(machines.address(node)) == workload.PAGE
    finally:
        machines.exec(manager, "docker", "service", "rm", SERVICE)


def test_status_shows_every_node_with_its_role_and_the_leader(platform, groups):
    result = platform.run("status")
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert set(rows) == groups["masters"] | agents(groups)
    leader = [h for h, m in platform.machines.members(through=sorted(groups["masters"])[0]).items() if m["leader"]]
    assert [h for h, row in rows.items() if "*" in row] == leader
    for master in groups["masters"]:
        assert rows[master][1] == "master"
        assert rows[master][-1] == platform.machines.address(master)
