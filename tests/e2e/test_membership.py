"""Grow and shrink a running cluster while a service keeps answering.

One cluster goes through every step in order; after each, the membership
read from the swarm is checked against the inventory, and a client has been
sending requests throughout: none may fail.
"""

import time

import pytest

from provisioners import runner
from tests.e2e import workload
from tests.e2e.conftest import Machines, flotilla

NAME = "e2e-grow"


def master(i):
    return f"{NAME}-master-{i}"


def agent(i):
    return f"{NAME}-agent-{i}"


@pytest.fixture(scope="module")
def machines(docker_client):
    result = flotilla("up", "--name", NAME, "--masters", "1", "--agents", "1", "--public-agents", "0")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield Machines(docker_client, NAME)
    flotilla("down", "--name", NAME)


@pytest.fixture(scope="module")
def client(machines):
    """Started once the cluster has grown; stopped and judged by the last test."""
    return {}


def leader(members):
    return next(h for h, m in members.items() if m["leader"])


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"not true after {timeout} s: {predicate.__doc__}")


def test_add_two_masters_and_two_agents(machines, docker_client, client):
    before = machines.assert_membership_matches_inventory(through=master(1))
    assert len(before) == 2

    result = flotilla("scale", "--name", NAME, "--masters", "3", "--agents", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=master(2))
    assert sorted(h for h, m in members.items() if m["role"] == "manager") == [master(i) for i in (1, 2, 3)]
    assert {members[master(i)]["reachability"] for i in (1, 2, 3)} == {"reachable"}

    agents = [agent(i) for i in (1, 2, 3)]
    workload.load_image(machines, workload.build_image(docker_client), agents)
    workload.create_service(machines, master(1), replicas=2)
    workload.wait_for_replicas(machines, master(1))
    client["thread"] = workload.Client(machines.address(a) for a in agents)
    client["thread"].start()


def test_remove_an_agent_moves_its_tasks(machines, client):
    busy = workload.running_tasks(machines, master(1))[0]
    result = flotilla("remove", "--name", NAME, busy)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=master(1))
    assert busy not in members
    nodes = workload.wait_for_replicas(machines, master(1))
    assert busy not in nodes


def test_promote_an_agent_and_demote_it_back(machines, client):
    manager = next(iter(machines.inventory_groups()["masters"]))
    promoted = next(iter(sorted(machines.inventory_groups()["agents_private"])))

    def cluster_node(check=False, **args):
        inventory = machines.workspace.inventory_file
        result = runner.run_module(inventory, manager, "flotilla.cluster.cluster_node", args, check=check)
        report = result.results[manager]
        assert result.rc == 0, report.get("msg")
        return report

    def role_of(host):
        return machines.members(through=manager)[host]["role"]

    # Each change four ways, as Ansible's own modules are tested: check, apply,
    # again (idempotent), again in check mode; the swarm is read after each.
    for role, swarm_role in (("master", "manager"), ("agent", "worker")):
        before = role_of(promoted)
        checked = cluster_node(check=True, name=promoted, role=role)
        assert checked["changed"] and checked["diff"]["after"]["role"] == role
        assert role_of(promoted) == before
        assert cluster_node(name=promoted, role=role)["changed"]
        assert role_of(promoted) == swarm_role
        assert not cluster_node(name=promoted, role=role)["changed"]
        assert not cluster_node(check=True, name=promoted, role=role)["changed"]
        if role == "master":
            assert machines.members(through=manager)[promoted]["reachability"] == "reachable"
    machines.assert_membership_matches_inventory(through=manager)


def test_a_removal_that_would_break_quorum_is_refused_and_changes_nothing(machines, docker_client, client):
    dead = master(3)
    docker_client.containers.get(dead).stop()

    def dead_is_down():
        """the stopped master is down and unreachable"""
        member = machines.members(through=master(1))[dead]
        return member["state"] == "down" and member["reachability"] == "unreachable"

    def membership():
        members = machines.members(through=master(1))
        return {host: (m["role"], m["availability"], m["labels"]) for host, m in members.items()}

    wait_for(dead_is_down)
    before = membership()

    result = flotilla("remove", "--name", NAME, master(2))
    assert result.returncode != 0
    assert "refusing" in result.stdout + result.stderr

    assert membership() == before
    assert docker_client.containers.get(master(2)).status == "running"


def test_remove_a_dead_master(machines, client):
    result = flotilla("remove", "--name", NAME, master(3))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=master(1))
    assert master(3) not in members
    assert sum(m["role"] == "manager" for m in members.values()) == 2


def test_remove_the_leader_elects_a_new_one(machines, client):
    old_leader = leader(machines.members(through=master(1)))
    survivor = next(m for m in (master(1), master(2)) if m != old_leader)

    result = flotilla("remove", "--name", NAME, old_leader)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=survivor)
    assert old_leader not in members
    assert leader(members) == survivor


def test_the_service_answered_throughout(client):
    thread = client["thread"]
    thread.stop()
    print(f"the service answered {thread.requests - thread.failures} of {thread.requests} requests")
    assert thread.requests > 100
    assert thread.failures == 0
