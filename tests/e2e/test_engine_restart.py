"""Changing the engines' configuration on a running cluster restarts every
engine, one at a time, without losing the leader or a request; and once the
quorum is lost, no membership change starts.

One cluster of 3 masters and 2 agents, a service on the agents and a client
sending it requests; a thread asks the masters for the Raft leader every
second while site.yml runs with a new `engine_daemon_options`. The last test
stops two masters.
"""

import threading
import time

import pytest

from provisioners import runner
from tests.e2e import workload
from tests.e2e.conftest import cluster_up, flotilla

NAME = "e2e-restart"
MASTERS = [f"{NAME}-master-{i}" for i in (1, 2, 3)]
AGENTS = [f"{NAME}-agent-{i}" for i in (1, 2)]
LABEL = "flotilla.e2e=restarted"


@pytest.fixture(scope="module")
def machines(docker_client):
    with cluster_up(docker_client, NAME, "--masters", "3", "--agents", "2", "--public-agents", "0") as machines:
        yield machines


class LeaderSamples(threading.Thread):
    """Once a second, the leader as the first master that answers reports it (None: no leader)."""

    def __init__(self, machines):
        super().__init__(daemon=True)
        self.machines = machines
        self.samples = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.samples.append((time.strftime("%H:%M:%S"), self._leader()))
            self._halt.wait(1)

    def _leader(self):
        for master in MASTERS:
            result = self.machines.client.containers.get(master).exec_run(
                ["docker", "node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]
            )
            if result.exit_code == 0:
                leaders = [line.split()[0] for line in result.output.decode().splitlines() if line.endswith(" Leader")]
                return leaders[0] if leaders else None
        return None

    def stop(self):
        self._halt.set()
        self.join()


def engine_state(machines, node):
    """The engine's labels and when its process started (a restart changes it)."""
    labels = machines.exec(node, "docker", "info", "--format", "{{json .Labels}}").strip()
    started = machines.exec(node, "systemctl", "show", "docker", "--property", "ExecMainStartTimestampMonotonic")
    return labels, started.strip()


def test_new_engine_options_restart_every_engine_without_losing_the_leader_or_a_request(machines, docker_client):
    workload.load_image(machines, workload.build_image(docker_client), AGENTS)
    workload.create_service(machines, MASTERS[0], replicas=2)
    assert workload.wait_for_replicas(machines, MASTERS[0], replicas=2) == AGENTS
    before = {node: engine_state(machines, node) for node in MASTERS + AGENTS}
    client = workload.Client(workload.SwarmTargets(machines), step="engine options changed")
    leaders = LeaderSamples(machines)
    client.start()
    leaders.start()
    started = time.monotonic()
    try:
        runner.run_playbook(
            machines.workspace.inventory_file,
            "playbooks/site.yml",
            extravars={"engine_daemon_options": {"labels": [LABEL]}},
        )
    finally:
        leaders.stop()
        client.stop()
    print(f"site.yml with new engine options: {time.monotonic() - started:.0f} s, {client.requests} requests")

    assert client.requests > 100
    assert client.failures == 0, client.report()
    gaps = [when for when, leader in leaders.samples if leader is None]
    assert gaps == [], f"no leader at {gaps} (of {len(leaders.samples)} samples)"
    after = {node: engine_state(machines, node) for node in MASTERS + AGENTS}
    for node in MASTERS + AGENTS:
        assert LABEL in after[node][0], f"{node}'s engine does not run with the new options"
        assert after[node][1] != before[node][1], f"{node}'s engine did not restart"
    members = machines.assert_membership_matches_inventory(through=MASTERS[1])
    assert {members[m]["reachability"] for m in MASTERS} == {"reachable"}
    assert workload.wait_for_replicas(machines, MASTERS[0], replicas=2) == AGENTS

    # The same options again: nothing changes, nothing restarts.
    again = runner.run_playbook(
        machines.workspace.inventory_file,
        "playbooks/site.yml",
        extravars={"engine_daemon_options": {"labels": [LABEL]}},
    )
    assert sum(again.stats.get("changed", {}).values()) == 0, again.stats["changed"]
    assert {node: engine_state(machines, node) for node in MASTERS + AGENTS} == after


def test_no_membership_change_starts_once_quorum_is_lost(machines):
    """The last test of the module's cluster: it stops two of its three masters."""
    agent = AGENTS[0]
    survivor, *stopped = MASTERS
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
