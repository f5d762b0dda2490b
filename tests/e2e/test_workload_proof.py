"""The client of workload.py can fail: the proof behind "0 failed requests".

A node killed under a running replica must cost requests, and the client
must record them in the step where it happened; a graceful drain, which the
swarm announces before it stops the task, must cost none. Without the first,
a "0 failures" elsewhere would prove nothing.

Three agents, so that two replicas (one per node: the port is published on
the node) still find room after a kill, whichever test runs first.
"""

import time

import pytest

from tests.e2e import workload
from tests.e2e.conftest import cluster_up

NAME = "e2e-proof"
MANAGER = f"{NAME}-master-1"
AGENTS = [f"{NAME}-agent-{i}" for i in (1, 2, 3)]
STEADY_SECONDS = 3


@pytest.fixture(scope="module")
def machines(docker_client):
    with cluster_up(docker_client, NAME, "--masters", "1", "--agents", "3", "--public-agents", "0") as machines:
        workload.load_image(machines, workload.build_image(docker_client), AGENTS)
        workload.create_service(machines, MANAGER, replicas=2)
        yield machines


@pytest.fixture
def client(machines):
    """A client following the swarm, started once both replicas answer."""
    workload.wait_for_replicas(machines, MANAGER, replicas=2)
    thread = workload.Client(workload.SwarmTargets(machines), step="steady")
    thread.start()
    yield thread
    thread.stop()
    print(thread.report())


def replicas_moved_off(machines, node, timeout=120):
    """Wait until two replicas run, neither on ``node``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = workload.running_tasks(machines, MANAGER)
        if len(nodes) == 2 and node not in nodes:
            return nodes
        time.sleep(0.5)
    raise AssertionError(f"the replica on {node} did not move in {timeout} s: {nodes}")


def stopped_on(machines, node, timeout=60):
    """Wait until no container of the service runs on ``node`` any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not machines.exec(
            node, "docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={workload.SERVICE}"
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"the service's container on {node} still runs after {timeout} s")


def steady(client, machines, busy):
    """Both replicas answer, through the client, before anything changes."""
    time.sleep(STEADY_SECONDS)
    assert set(client.targets_in("steady")) == {machines.address(node) for node in busy}
    assert client.failures_in("steady") == []


def test_a_node_killed_under_a_replica_costs_requests(machines, docker_client, client):
    busy = workload.running_tasks(machines, MANAGER)
    steady(client, machines, busy)
    victim = busy[0]
    address = machines.address(victim)  # a killed container has none

    client.step("kill")
    docker_client.containers.get(victim).kill()
    replicas_moved_off(machines, victim)
    client.step("after")
    time.sleep(STEADY_SECONDS)
    client.stop()

    failed = client.failures_in("kill")
    assert failed, f"killing {victim} under a running replica cost no request:\n{client.report()}"
    assert {r.target for r in failed} == {address}
    assert client.failures_in("after") == [], client.report()


def test_a_graceful_drain_costs_no_request(machines, client):
    busy = workload.running_tasks(machines, MANAGER)
    steady(client, machines, busy)
    drained = busy[0]

    client.step("drain")
    machines.exec(MANAGER, "docker", "node", "update", "--availability", "drain", drained)
    # Once its container has stopped, any request still sent there would fail.
    stopped_on(machines, drained)
    client.step("after")
    time.sleep(STEADY_SECONDS)
    client.stop()
    machines.exec(MANAGER, "docker", "node", "update", "--availability", "active", drained)

    assert client.requests_in("drain") > 0 and client.requests_in("after") > 0
    assert client.failures == 0, client.report()
