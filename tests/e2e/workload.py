"""A small web service for the clusters under test, and a client that counts failures.

The image is made here, from Debian's static busybox (no registry can be
reached), and carried to the agents with `docker save` / `docker load`. The
routing mesh needs IPVS, which not every kernel has, so the service
publishes its port on the nodes that run it (mode=host) and the client does
what a load balancer does: it tries the nodes in turn, and a request fails
only when none of them answers.
"""

import http.client
import io
import tarfile
import threading
import time
import urllib.request

IMAGE = "flotilla-e2e/web:1"
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


def create_service(machines, manager, replicas=2):
    machines.exec(
        manager,
        "docker",
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        str(replicas),
        "--constraint",
        "node.role==worker",
        "--endpoint-mode",
        "dnsrr",
        "--publish",
        f"mode=host,target={PORT},published={PORT}",
        "--update-order",
        "start-first",
        IMAGE,
    )


def running_tasks(machines, manager):
    """Hostnames of the nodes running a task of the service."""
    ids = machines.exec(manager, "docker", "service", "ps", "web", "-q", "--filter", "desired-state=running").split()
    nodes = []
    for task in ids:
        state = machines.exec(manager, "docker", "inspect", "--format", "{{.Status.State}} {{.NodeID}}", task).split()
        if state[0] == "running":
            nodes.append(
                machines.exec(
                    manager, "docker", "node", "inspect", "--format", "{{.Description.Hostname}}", state[1]
                ).strip()
            )
    return sorted(nodes)


def wait_for_replicas(machines, manager, replicas=2, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = running_tasks(machines, manager)
        if len(nodes) == replicas:
            return nodes
        time.sleep(1)
    raise AssertionError(f"the service did not reach {replicas} running tasks in {timeout} s")


def get(address, timeout=1.0):
    with urllib.request.urlopen(f"http://{address}:{PORT}/", timeout=timeout) as response:
        return response.read()


class Client(threading.Thread):
    """Sends requests until stopped; each tries every known node before it fails."""

    def __init__(self, addresses, interval=0.05, limit_seconds=1800):
        super().__init__(daemon=True)
        self.addresses = list(addresses)
        self.interval = interval
        self.limit = time.monotonic() + limit_seconds
        self.requests = 0
        self.failures = 0
        self._halt = threading.Event()

    def add(self, address):
        self.addresses.append(address)

    def run(self):
        while not self._halt.is_set() and time.monotonic() < self.limit:
            self.requests += 1
            if not any(self._try(address) for address in list(self.addresses)):
                self.failures += 1
            time.sleep(self.interval)

    def _try(self, address):
        try:
            return get(address, timeout=0.5) == PAGE
        except (OSError, http.client.HTTPException):
            return False

    def stop(self):
        self._halt.set()
        self.join()
