"""The public edge on the shared platform cluster (issue 9, test 2).

A client outside the cluster sends requests to the public agent's port 80
with a Host header, continuously, while the app scales, rolls to a new
version, and while another app's route is added and removed (a reload).
Every request is counted; each answer says which container (and which
version) served it, and that is compared with what the swarm runs.
"""

import csv
import http.client
import io
import json
import re
import ssl
import threading
import time
import urllib.request
from collections import Counter

import pytest
from ansible_collections.flotilla.cluster.scheduler.definition import parse_app

from provisioners.apps import deploy, remove
from tests.e2e import who
from tests.e2e.workload import load_image

HOST = "who.example"
SETTLE = 60


@pytest.fixture(scope="module")
def edge(platform):
    """The public agent's address, once the image is on every agent; the
    edge there runs the image the role built, not one rolled back to."""
    groups = platform.machines.inventory_groups()
    manager = sorted(groups["masters"])[0]
    service = json.loads(platform.machines.exec(manager, "docker", "service", "inspect", "flotilla-edge"))[0]
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].startswith("flotilla/edge:")
    assert "rollback" not in service.get("UpdateStatus", {}).get("State", "")

    def running():
        # The role does not wait for a stop-first update to start the new task.
        listed = platform.machines.exec(
            manager, "docker", "service", "ps", "flotilla-edge", "--filter", "desired-state=running",
            "--format", "{{.Node}} {{.CurrentState}}",
        )  # fmt: skip
        return {line.split()[0] for line in listed.splitlines() if line.split()[1] == "Running"}

    wait_for(lambda: running() == groups["agents_public"], "the edge does not run on every public agent")
    agents = groups["agents_private"] | groups["agents_public"]
    load_image(platform.machines, who.build_image(platform.machines.client), agents)
    return platform.machines.address(sorted(groups["agents_public"])[0])


def app(app_id, host, instances=2, version="1"):
    return parse_app(who.definition(app_id, host, instances, version))


def ask(address, host, port=80, path=who.PATH):
    """One request through the edge: (status, body)."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_routed(address, host, timeout=SETTLE):
    """Until the edge has the route (it polls the scheduler every few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ask(address, host)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"the edge at {address} never routed {host}"
        time.sleep(1)


class Client(threading.Thread):
    """Requests one after another until stopped; every answer but a 200 is a failure."""

    def __init__(self, address, host):
        super().__init__(daemon=True)
        self.address, self.host = address, host
        self.answers, self.failures = Counter(), []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                status, body = ask(self.address, self.host)
            except OSError as err:
                self.failures.append(repr(err))
                continue
            if status == 200:
                self.answers[body.strip()] += 1
            else:
                self.failures.append(f"HTTP {status}")

    def seen(self, since=None):
        return set(self.answers) - (since or set())

    def stop(self):
        self.stopping.set()
        self.join(30)


def running_containers(platform, app_id):
    """The 12-character container names the swarm runs for the app now."""
    manager = sorted(platform.machines.inventory_groups()["masters"])[0]
    lines = platform.machines.exec(
        manager, "docker", "service", "ps", app_id, "--filter", "desired-state=running", "--format", "{{json .}}"
    )
    tasks = [json.loads(line) for line in lines.splitlines()]
    ids = []
    for task in tasks:
        inspected = json.loads(platform.machines.exec(manager, "docker", "inspect", task["ID"]))[0]
        if inspected["Status"]["State"] == "running":
            ids.append(inspected["Status"]["ContainerStatus"]["ContainerID"][:12])
    return set(ids)


def stats(address, port=8404):
    """HAProxy's stats as CSV rows, read from the edge itself."""
    status, text = ask(address, "stats", port=port, path="/;csv")
    assert status == 200
    return list(csv.DictReader(io.StringIO(text.lstrip("# "))))


def servers_up(address, app_id):
    """How many of the app's server slots are filled by DNS and pass their checks."""
    rows = stats(address)
    return sum(
        1 for row in rows if row["pxname"] == f"app-{app_id}" and row["svname"] != "BACKEND" and row["status"] == "UP"
    )


def worker_pid(address):
    status, page = ask(address, "stats", port=8404, path="/")
    assert status == 200
    return int(re.search(r"pid = (?:</b>)?\s*(\d+)", page).group(1))


def wait_for(condition, what, timeout=SETTLE):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_through_the_edge_requests_reach_the_replicas_and_none_fails_while_scaling_and_updating(platform, edge):
    api = platform.api()
    try:
        deploy(api, app("edg-who", HOST))
        wait_routed(edge, HOST)
        wait_for(lambda: servers_up(edge, "edg-who") == 2, "the edge never saw both replicas up")
        answered = {ask(edge, HOST)[1].split()[0] for _ in range(20)}
        assert len(answered) >= 2
        assert answered <= running_containers(platform, "edg-who")
        # Unknown host names reach no app.
        assert ask(edge, "nobody.example")[0] == 503
        # HTTPS too, with a certificate from the cluster's CA naming the agent.
        secure = http.client.HTTPSConnection(
            edge, 443, timeout=10, context=ssl.create_default_context(cafile=api.ca_file)
        )
        secure.request("GET", who.PATH, headers={"Host": HOST})
        response = secure.getresponse()
        assert response.status == 200
        assert response.read().decode().split()[0] in answered
        secure.close()

        client = Client(edge, HOST)
        client.start()
        configuration = api_text(api)
        pid = worker_pid(edge)
        deploy(api, app("edg-who", HOST, instances=4))
        wait_for(lambda: servers_up(edge, "edg-who") == 4, "the edge never saw 4 servers up")
        wait_for(lambda: len({a.split()[0] for a in client.seen()}) >= 4, "the client never reached 4 replicas")
        # Scaling changed no route: the same configuration, the same worker.
        assert api_text(api) == configuration
        assert worker_pid(edge) == pid

        before = client.seen()
        deploy(api, app("edg-who", HOST, instances=4, version="2"))
        new = running_containers(platform, "edg-who")
        # Each new task is found through the engine's DNS, which the swarm's
        # gossip updates: once in a full run it took over a minute.
        wait_for(
            lambda: {a.split()[0] for a in client.seen(before)} >= new, "the new version never answered", timeout=120
        )
        client.stop()
        assert client.failures == []
        versions = Counter(answer.split()[1] for answer in client.answers.elements())
        assert versions["1"] > 0 and versions["2"] > 0
    finally:
        remove(api, "edg-who")


def api_text(api):
    """The edge's configuration as the scheduler renders it (the admin token reads it too)."""
    request = urllib.request.Request(api.routers[0] + "/v1/edge/haproxy.cfg")
    request.add_header("Authorization", f"Bearer {api.token}")
    context = ssl.create_default_context(cafile=str(api.ca_file))
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return response.read().decode()


def test_a_route_added_and_removed_reloads_the_edge_without_dropping_a_request(platform, edge):
    api = platform.api()
    try:
        deploy(api, app("edg-first", HOST))
        wait_routed(edge, HOST)
        client = Client(edge, HOST)
        client.start()
        pid = worker_pid(edge)
        deploy(api, app("edg-second", "second.example"))
        wait_routed(edge, "second.example")
        reloaded = worker_pid(edge)
        assert reloaded != pid
        remove(api, "edg-second")
        wait_for(lambda: ask(edge, "second.example")[0] == 503, "the removed route still answers")
        assert worker_pid(edge) != reloaded
        client.stop()
        assert client.failures == []
        assert sum(client.answers.values()) > 50
    finally:
        listed = {state["id"] for state in api.call("GET", "/v1/apps")["apps"]}
        for app_id in {"edg-first", "edg-second"} & listed:
            remove(api, app_id)
