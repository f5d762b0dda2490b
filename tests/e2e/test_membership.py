"""Grow and shrink a running cluster, and every membership state, for real.

The module-scoped fixture builds what every test needs (1+1 grown to 3+3,
a service on the agents and a client sending it requests), so any test can
run alone; a test that needs more (a dead master) makes it itself. After
each step the membership read from the swarm is checked against the
inventory, and the client must not have seen one failed request.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import workload
from tests.e2e.conftest import cluster_up, flotilla

NAME = "e2e-grow"
# The checkout: `ansible` runs here with its ansible.cfg, as a user of the checkout would.
ROOT = Path(__file__).resolve().parents[2]


def master(i):
    return f"{NAME}-master-{i}"


def agent(i):
    return f"{NAME}-agent-{i}"


class Cluster:
    def __init__(self, machines, before, client):
        self.machines = machines
        self.before = before  # the members before the cluster grew
        self.client = client


@pytest.fixture(scope="module")
def cluster(docker_client):
    with cluster_up(docker_client, NAME, "--masters", "1", "--agents", "1", "--public-agents", "0") as machines:
        before = machines.assert_membership_matches_inventory(through=master(1))
        # The service and its client start before the first change, so that
        # the growth is covered too: one replica until a second agent joins
        # (each binds the node's port).
        image = workload.build_image(docker_client)
        workload.load_image(machines, image, [agent(1)])
        workload.create_service(machines, master(1), replicas=2)
        workload.wait_for_replicas(machines, master(1), replicas=1)
        client = workload.Client(workload.SwarmTargets(machines), step="grow 1+1 to 3+3")
        client.start()
        try:
            result = flotilla("scale", "--name", NAME, "--masters", "3", "--agents", "3")
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            workload.load_image(machines, image, [agent(2), agent(3)])
            workload.wait_for_replicas(machines, master(1))
            yield Cluster(machines, before, client)
        finally:
            client.stop()
            print(client.report())


@pytest.fixture(autouse=True)
def step(request, cluster):
    """Failed requests are told by the test that was running."""
    cluster.client.step(request.node.name)


def leader(members):
    return next(h for h, m in members.items() if m["leader"])


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"not true after {timeout} s: {predicate.__doc__}")


def a_manager(machines):
    """A running master that answers for the swarm."""
    for host in sorted(machines.inventory_groups()["masters"]):
        if machines.client.containers.get(host).status == "running":
            return host
    raise AssertionError("no master runs")


def module(machines, host, name, args, check=False, diff=True):
    """Run one module on ``host`` as `ansible` does, and return its result."""
    command = [
        str(Path(sys.executable).parent / "ansible"),
        host,
        "-i",
        str(machines.workspace.inventory_file),
        "-m",
        name,
        "-a",
        json.dumps(args),
        *(["--check"] if check else []),
        *(["--diff"] if diff else []),
    ]
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    report = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    assert not report.get("failed"), report.get("msg")
    return report


def four_ways(run, args, read):
    """check, apply, idempotent, idempotent + check, each with diff; ``read``
    reads the state from the swarm itself after each."""
    before = read()
    checked = run(args, check=True)
    assert checked["changed"] and checked["diff"]["before"] != checked["diff"]["after"]
    assert read() == before
    applied = run(args)
    assert applied["changed"]
    after = read()
    assert after != before
    for check in (False, True):
        again = run(args, check=check)
        assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"]
    assert read() == after
    return after


def test_add_two_masters_and_two_agents(cluster):
    machines = cluster.machines
    assert len(cluster.before) == 2
    members = machines.assert_membership_matches_inventory(through=master(2))
    assert sorted(h for h, m in members.items() if m["role"] == "manager") == [master(i) for i in (1, 2, 3)]
    assert {members[master(i)]["reachability"] for i in (1, 2, 3)} == {"reachable"}


def test_every_manager_side_state_four_ways(cluster):
    machines = cluster.machines
    manager = a_manager(machines)
    # An agent without a task of the service: draining it moves nothing.
    free = sorted(machines.inventory_groups()["agents_private"] - set(workload.running_tasks(machines, manager)))[0]

    def cluster_node(args, check=False, diff=True):
        return module(machines, manager, "flotilla.cluster.cluster_node", {"name": free, **args}, check, diff)

    def member():
        return machines.members(through=manager).get(free)

    labels = member()["labels"]
    no_diff = cluster_node({"labels": {"zone": "b"}}, check=True, diff=False)
    assert no_diff["changed"] and "diff" not in no_diff

    after = four_ways(cluster_node, {"labels": {"zone": "b", "rack": 3}}, member)
    assert after["labels"] == {**labels, "zone": "b", "rack": "3"}
    after = four_ways(cluster_node, {"labels_to_remove": ["rack"]}, member)
    assert after["labels"] == {**labels, "zone": "b"}
    after = four_ways(cluster_node, {"labels": {"zone": "c"}, "labels_state": "replace"}, member)
    assert after["labels"] == {"zone": "c"}
    four_ways(cluster_node, {"labels": labels, "labels_state": "replace"}, member)
    assert four_ways(cluster_node, {"availability": "pause"}, member)["availability"] == "pause"
    assert four_ways(cluster_node, {"state": "drained"}, member)["availability"] == "drain"
    assert four_ways(cluster_node, {"availability": "active"}, member)["availability"] == "active"
    machines.assert_membership_matches_inventory(through=manager)


def test_node_side_and_absent_four_ways(cluster):
    """An agent leaves, is removed, founds a swarm of its own, leaves it, and joins back."""
    machines = cluster.machines
    manager = a_manager(machines)
    free = sorted(machines.inventory_groups()["agents_private"] - set(workload.running_tasks(machines, manager)))[0]
    labels = machines.members(through=manager)[free]["labels"]

    def on_node(args, check=False):
        return module(machines, free, "flotilla.cluster.cluster_membership", args, check)

    def on_manager(args, check=False):
        return module(machines, manager, "flotilla.cluster.cluster_node", {"name": free, **args}, check)

    def local_state():
        out = machines.exec(free, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
        return out.strip()

    def member():
        entry = machines.members(through=manager).get(free)
        return entry and entry["state"]

    assert four_ways(on_node, {"state": "left"}, local_state) == "inactive false"
    wait_for(lambda: member() == "down")
    assert four_ways(on_manager, {"state": "absent"}, member) is None
    own = machines.address(free)
    assert four_ways(on_node, {"state": "founded", "advertise_addr": own}, local_state) == "active true"
    # A manager leaves only with force (its own one-node swarm, here).
    assert four_ways(on_node, {"state": "left", "force": True}, local_state) == "inactive false"

    token = machines.exec(manager, "docker", "swarm", "join-token", "-q", "worker").strip()
    address = f"{machines.address(manager)}:2377"
    join = {"state": "joined", "join_token": token, "managers": [address], "advertise_addr": own}
    joined = four_ways(on_node, join, local_state)
    assert joined == "active false"
    restored = on_manager({"role": "agent", "labels": labels, "inventory_name": free})
    assert restored["node"]["labels"] == labels
    machines.assert_membership_matches_inventory(through=manager)


def test_remove_an_agent_moves_its_tasks(cluster):
    machines = cluster.machines
    manager = a_manager(machines)
    busy = workload.running_tasks(machines, manager)[0]
    result = flotilla("remove", "--name", NAME, busy)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=manager)
    assert busy not in members
    nodes = workload.wait_for_replicas(machines, manager)
    assert busy not in nodes


def test_promote_an_agent_and_demote_it_back(cluster):
    machines = cluster.machines
    manager = a_manager(machines)
    promoted = sorted(machines.inventory_groups()["agents_private"])[0]

    def cluster_node(args, check=False):
        return module(machines, manager, "flotilla.cluster.cluster_node", {"name": promoted, **args}, check)

    def role_of():
        member = machines.members(through=manager)[promoted]
        return member["role"], member["reachability"]

    assert four_ways(cluster_node, {"role": "master"}, role_of) == ("manager", "reachable")
    assert four_ways(cluster_node, {"role": "agent"}, role_of) == ("worker", None)
    machines.assert_membership_matches_inventory(through=manager)


def stop_master_3(machines):
    dead = master(3)
    machines.client.containers.get(dead).stop()

    def dead_is_down():
        """the stopped master is down and unreachable"""
        member = machines.members(through=master(1))[dead]
        return member["state"] == "down" and member["reachability"] == "unreachable"

    wait_for(dead_is_down)
    return dead


def test_a_removal_that_would_break_quorum_is_refused_and_changes_nothing(cluster):
    machines = cluster.machines
    stop_master_3(machines)

    def membership():
        members = machines.members(through=master(1))
        return {host: (m["role"], m["availability"], m["labels"]) for host, m in members.items()}

    before = membership()
    result = flotilla("remove", "--name", NAME, master(2))
    assert result.returncode != 0
    assert "refusing" in result.stdout + result.stderr

    assert membership() == before
    assert machines.client.containers.get(master(2)).status == "running"


def test_remove_a_dead_master(cluster):
    machines = cluster.machines
    if machines.client.containers.get(master(3)).status == "running":
        stop_master_3(machines)
    result = flotilla("remove", "--name", NAME, master(3))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    members = machines.assert_membership_matches_inventory(through=master(1))
    assert master(3) not in members
    assert sum(m["role"] == "manager" for m in members.values()) == 2


def test_remove_the_leader_elects_a_new_one(cluster):
    machines = cluster.machines
    old_leader = leader(machines.members(through=a_manager(machines)))

    result = flotilla("remove", "--name", NAME, old_leader)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    survivor = a_manager(machines)
    members = machines.assert_membership_matches_inventory(through=survivor)
    assert old_leader not in members
    assert members[leader(members)]["role"] == "manager"


def test_the_service_answered_throughout(cluster):
    client = cluster.client

    def enough():
        """the client has sent more than 100 requests"""
        return client.requests > 100

    wait_for(enough)
    print(client.report())
    assert client.failures == 0, client.report()
