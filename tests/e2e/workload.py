"""A small web service for the clusters under test, and a client that counts every failure.

The image is made here, from Debian's static busybox (no registry can be
reached), and carried to the nodes with `docker save` / `docker load`. The
routing mesh needs IPVS, which not every kernel has, so the service
publishes its port on the nodes that run it (mode=host), and the client does
what a load balancer fed by the scheduler does (Marathon-LB style): it reads
from a manager which nodes run a replica now, and sends each of them a
request in every round. Every request that fails is counted, with its target
and the step of the test it happened in: a node killed under a running
replica shows up, and a graceful drain (the task leaves the targets before
its container stops) does not.
"""

import http.client
import io
import math
import tarfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass

import docker

IMAGE = "flotilla-e2e/web:1"
SERVICE = "web"
PORT = 8080
BUSYBOX = "/bin/busybox"

DOCKERFILE = b"""\
FROM scratch
COPY busybox /bin/busybox
COPY index.html /www/index.html
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
"""
PAGE = b"flotilla\n"


def build_image(client):
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", DOCKERFILE), ("index.html", PAGE)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.add(BUSYBOX, arcname="busybox")
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)
    return b"".join(client.images.get(IMAGE).save(named=True))


def load_image(machines, tarball, hosts):
    for host in hosts:
        container = machines.client.containers.get(host)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo("web.tar")
            info.size = len(tarball)
            tar.addfile(info, io.BytesIO(tarball))
        container.put_archive("/tmp", archive.getvalue())
        machines.exec(host, "docker", "load", "-i", "/tmp/web.tar")


def create_service(machines, manager, replicas=2, constraint="node.role==worker", name=SERVICE, mode="replicated"):
    """Start the web service; ``constraint=None`` leaves placement to the swarm alone,
    ``mode="global"`` asks for one task on every node that may run one."""
    placement = ["--replicas", str(replicas)] if mode == "replicated" else []
    machines.exec(
        manager,
        "docker",
        "service",
        "create",
        "--detach",
        "--name",
        name,
        "--mode",
        mode,
        *placement,
        *(["--constraint", constraint] if constraint else []),
        "--endpoint-mode",
        "dnsrr",
        "--publish",
        f"mode=host,target={PORT},published={PORT}",
        "--update-order",
        "start-first",
        IMAGE,
    )


def task_nodes(machines, manager, service=SERVICE):
    """{hostname: [current state of each task there]} for every task the swarm
    means to run (desired state running), whatever its current state: where the
    scheduler put the service, not only where it already answers."""
    lines = machines.exec(
        manager,
        "docker",
        "service",
        "ps",
        service,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}}\t{{.CurrentState}}",
    ).splitlines()
    nodes = {}
    for line in lines:
        node, state = line.split("\t")
        nodes.setdefault(node, []).append(state.split()[0].lower())
    return nodes


def running_tasks(machines, manager, service=SERVICE):
    """Hostnames of the nodes running a task of the service."""
    return sorted(node for node, states in task_nodes(machines, manager, service).items() if "running" in states)


def wait_for_replicas(machines, manager, replicas=2, timeout=90, service=SERVICE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = running_tasks(machines, manager, service)
        if len(nodes) == replicas:
            return nodes
        time.sleep(1)
    raise AssertionError(f"the service did not reach {replicas} running tasks in {timeout} s")


def wait_for_tasks_on(machines, manager, nodes, timeout=90, service=SERVICE):
    """Wait until each of ``nodes`` runs a task of the service; return `task_nodes` then,
    which also shows any task put elsewhere."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        placed = task_nodes(machines, manager, service)
        if all("running" in placed.get(node, []) for node in nodes):
            return placed
        time.sleep(1)
    raise AssertionError(f"the service did not run on each of {sorted(nodes)} in {timeout} s: {placed}")


def get(address, timeout=1.0):
    with urllib.request.urlopen(f"http://{address}:{PORT}/", timeout=timeout) as response:
        return response.read()


class SwarmTargets:
    """The addresses of the nodes that run a replica now, as the swarm's managers say.

    A task counts once the swarm reports it running and stops counting as soon
    as its desired state is no longer running (a drain, a removal), which is
    what a load balancer fed by the scheduler would route to. The managers are
    read from the cluster's inventory each time (it changes as the cluster
    grows and shrinks) and tried in turn; when none answers, the last answer
    stands, as a load balancer keeps its last configuration.
    """

    def __init__(self, machines, service=SERVICE):
        # A Docker client of its own: this is read from the client's thread.
        self._docker = docker.from_env()
        self._machines = machines
        self._service = service
        self._addresses = {}
        self.current = []

    def __call__(self):
        for manager in sorted(self._managers()):
            try:
                nodes = self._running_on(manager)
            except (docker.errors.APIError, OSError, ValueError):
                continue
            self.current = [self._address(node) for node in nodes]
            break
        return self.current

    def _managers(self):
        try:
            return self._machines.inventory_groups()["masters"]
        except (OSError, KeyError, TypeError):
            return ()  # the inventory is being rewritten: ask again next round

    def _running_on(self, manager):
        result = self._docker.containers.get(manager).exec_run(
            [
                "docker",
                "service",
                "ps",
                self._service,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}}\t{{.CurrentState}}",
            ]
        )
        if result.exit_code != 0:
            raise ValueError(result.output.decode())
        lines = [line.split("\t") for line in result.output.decode().splitlines()]
        return sorted({node for node, state in lines if state.startswith("Running")})

    def _address(self, node):
        if node not in self._addresses:
            networks = self._docker.containers.get(node).attrs["NetworkSettings"]["Networks"]
            self._addresses[node] = networks[f"flotilla-{self._machines.name}"]["IPAddress"]
        return self._addresses[node]


@dataclass(frozen=True)
class Request:
    step: str
    target: str
    ok: bool
    error: str = ""


class Client(threading.Thread):
    """Sends a request to every target in each round until stopped, and records each one.

    ``targets`` is a list of addresses (fixed targets: every one must answer)
    or a callable returning the current ones, such as ``SwarmTargets``; it is
    called again every ``refresh`` seconds. ``step(name)`` marks where the test
    is, so that failures can be told per step.
    """

    def __init__(self, targets, interval=0.05, limit_seconds=1800, refresh=0.5, step="start", timeout=3.0):
        super().__init__(daemon=True)
        # Targets read from the swarm come and go: like a load balancer's
        # backends, a new one is in service once it has answered.
        self._dynamic = callable(targets)
        self._answered = set()
        if not callable(targets):
            fixed = list(targets)
            targets = lambda: fixed  # noqa: E731 - the fixed list, asked like the swarm
        self._targets = targets
        self.interval = interval
        self.refresh = refresh
        # A load balancer's server timeout, not a latency goal: on two cores
        # busy installing four new nodes, a page can take over half a second
        # and is still served.
        self.timeout = timeout
        self.limit = time.monotonic() + limit_seconds
        self.current_step = step
        self.steps = [step]
        self.results = []
        self._halt = threading.Event()

    def step(self, name):
        self.current_step = name
        self.steps.append(name)

    def run(self):
        targets, refreshed = [], -math.inf
        while not self._halt.is_set() and time.monotonic() < self.limit:
            if time.monotonic() - refreshed >= self.refresh:
                targets, refreshed = list(self._targets()), time.monotonic()
            for target in targets:
                result = self._try(target)
                if result is not None:
                    self.results.append(result)
            time.sleep(self.interval)

    def _try(self, target):
        """The request's outcome. With targets read from the swarm, None for a
        target not yet in service (a task starting, which has not answered
        once) or taken out of it meanwhile (asked again after the failure, as
        a load balancer does): a drain is not a failure, a killed node is."""
        step = self.current_step
        try:
            page = get(target, timeout=self.timeout)
        except (OSError, http.client.HTTPException) as err:
            error = str(err)
        else:
            if page == PAGE:
                self._answered.add(target)
                return Request(step, target, True)
            error = f"unexpected page {page[:40]!r}"
        if self._dynamic and (target not in self._answered or target not in self._targets()):
            return None
        return Request(step, target, False, error)

    def stop(self):
        self._halt.set()
        self.join()

    @property
    def requests(self):
        return len(self.results)

    @property
    def failures(self):
        return sum(not r.ok for r in self.results)

    def requests_in(self, step):
        return sum(r.step == step for r in self.results)

    def failures_in(self, step):
        return [r for r in self.results if r.step == step and not r.ok]

    def targets_in(self, step):
        """{address: requests sent to it} during ``step``."""
        return Counter(r.target for r in self.results if r.step == step)

    def report(self):
        """One line per step: requests, failures, the targets that failed and
        each one's first error."""
        lines = []
        for step in dict.fromkeys(self.steps):
            failures = self.failures_in(step)
            failed = Counter(r.target for r in failures)
            first = {r.target: r.error for r in reversed(failures)}
            lines.append(
                f"{step}: {self.requests_in(step)} requests, {len(failures)} failed {dict(failed)}"
                + "".join(f"\n    {target}: {error}" for target, error in sorted(first.items()))
            )
        return "\n".join(lines)
