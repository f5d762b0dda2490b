"""Placement you can read, and resident apps, on the shared platform cluster.

Every check reads the swarm itself (its tasks, their nodes and errors, the
data in a volume) through a master's or an agent's own engine; what
`flotilla app show` says is checked against that.
"""

import io
import json
import subprocess
import tarfile
import time

import pytest
import yaml

from tests.e2e.conftest import flotilla

# The images' tags name a registry no node has, so the swarm runs the copy
# each agent was given (a failed pull is only logged, as Docker 20.10 does).
SLEEPER_IMAGE = "localhost:5000/flotilla-e2e/sleeper:1"
DOCKERFILE = b"FROM scratch\nCOPY busybox /bin/busybox\n"
SLEEPER = ["/bin/busybox", "sleep", "86400"]


@pytest.fixture(scope="module")
def private_agents(platform):
    return sorted(platform.machines.inventory_groups()["agents_private"])


@pytest.fixture(scope="module")
def master(platform):
    return sorted(platform.machines.inventory_groups()["masters"])[0]


def load(platform, docker_client, ref, hosts):
    """``ref`` from the host's engine into each of ``hosts``' (no registry is reachable)."""
    tarball = b"".join(docker_client.images.get(ref).save(named=ref))
    for host in hosts:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo("image.tar")
            info.size = len(tarball)
            tar.addfile(info, io.BytesIO(tarball))
        docker_client.containers.get(host).put_archive("/tmp", archive.getvalue())
        platform.machines.exec(host, "docker", "load", "-i", "/tmp/image.tar")
        platform.machines.exec(host, "rm", "/tmp/image.tar")


@pytest.fixture(scope="module")
def sleeper_image(platform, docker_client, private_agents):
    """Debian's static busybox alone, on every private agent."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(DOCKERFILE)
        tar.addfile(info, io.BytesIO(DOCKERFILE))
        tar.add("/bin/busybox", arcname="busybox")
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=SLEEPER_IMAGE, rm=True)
    load(platform, docker_client, SLEEPER_IMAGE, private_agents)
    return SLEEPER_IMAGE


@pytest.fixture(scope="module")
def redis_image(platform, docker_client, private_agents):
    """Flotilla's redis (images/redis), built by `flotilla image build`, on every private agent."""
    result = flotilla("image", "build", "redis")
    assert result.returncode == 0, result.stderr
    ref = f"localhost:5000/{result.stdout.strip()}"
    docker_client.images.get(result.stdout.strip()).tag(ref)
    load(platform, docker_client, ref, private_agents)
    return ref


@pytest.fixture
def volumes(platform):
    """(node, volume) a test's apps made, removed once the apps are (the
    engine frees a volume only when the container that used it is gone)."""
    made = []
    yield made
    for node, name in made:
        wait_for(f"{name} removed on {node}", lambda node=node, name=name: _remove_volume(platform, node, name), 60)


def _remove_volume(platform, node, name):
    # Refused while a container still holds it: asked again until it is gone.
    subprocess.run(["docker", "exec", node, "docker", "volume", "rm", "-f", name], capture_output=True, check=False)
    return not platform.machines.exec(node, "docker", "volume", "ls", "-q", "--filter", f"name=^{name}$").strip()


@pytest.fixture
def apps(platform, volumes):
    """Ids of the apps a test deploys, removed after it (and read back gone)."""
    deployed = []
    yield deployed
    for app_id in deployed:
        platform.run("app", "remove", app_id)
    listed = {app["id"] for app in platform.api().call("GET", "/v1/apps")["apps"]}
    assert not listed & set(deployed), f"apps left behind: {listed & set(deployed)}"


def swarm_tasks(platform, master, service):
    """Every task the swarm keeps for ``service`` (history too), as
    {id, node (hostname or ''), state, desired, error}, oldest first."""
    ids = platform.machines.exec(master, "docker", "service", "ps", "-q", "--no-trunc", service).split()
    tasks = json.loads(platform.machines.exec(master, "docker", "inspect", *ids))
    names = {}
    for task in tasks:
        node_id = task.get("NodeID")
        if node_id and node_id not in names:
            names[node_id] = platform.machines.exec(
                master, "docker", "node", "inspect", "-f", "{{.Description.Hostname}}", node_id
            ).strip()
    return [
        {
            "id": task["ID"],
            "node": names.get(task.get("NodeID"), ""),
            "state": task["Status"]["State"],
            "desired": task["DesiredState"],
            "error": task["Status"].get("Err", ""),
        }
        for task in sorted(tasks, key=lambda task: task["CreatedAt"])
    ]


def wait_for(what, check, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not so after {timeout} s"
        time.sleep(1)


def current_tasks(platform, master, service):
    return [task for task in swarm_tasks(platform, master, service) if task["desired"] == "running"]


def show(platform, app_id):
    result = platform.run("app", "show", app_id)
    assert result.returncode == 0, result.stderr
    return result.stdout


def deploy(platform, tmp_path, definition, timeout=180):
    path = tmp_path / f"{definition['id']}.yml"
    path.write_text(yaml.safe_dump(definition))
    return platform.run("app", "deploy", "-f", str(path), "--timeout", str(timeout))


def test_unique_per_node_on_two_agents_runs_two_and_says_why_the_third_waits(
    platform, master, private_agents, sleeper_image, apps
):
    apps.append("unique3")
    platform.api().call(
        "PUT",
        "/v1/apps/unique3",
        {"id": "unique3", "image": sleeper_image, "command": SLEEPER, "instances": 3, "placement": {"unique": True}},
    )

    def two_running_one_pending():
        tasks = current_tasks(platform, master, "unique3")
        running = sorted(task["node"] for task in tasks if task["state"] == "running")
        pending = [task for task in tasks if task["state"] == "pending"]
        return (running, pending) if len(running) == 2 and len(pending) == 1 else None

    running, pending = wait_for("2 running and 1 pending", two_running_one_pending)
    assert running == private_agents
    assert "max replicas per node" in pending[0]["error"]
    said = show(platform, "unique3")
    assert "2 of 3 running" in said
    assert "at most one instance per node (placement.unique), and every node that fits already runs one" in said


def test_an_app_reserving_more_memory_than_any_agent_has_waits_and_says_so(platform, master, sleeper_image, apps):
    apps.append("toobig")
    platform.api().call(
        "PUT", "/v1/apps/toobig", {"id": "toobig", "image": sleeper_image, "command": SLEEPER, "mem": 1024 * 1024}
    )
    tasks = wait_for(
        "a pending task", lambda: [t for t in current_tasks(platform, master, "toobig") if t["state"] == "pending"]
    )
    assert "insufficient resources" in tasks[0]["error"]
    time.sleep(5)  # it still waits: the swarm does not give up on it
    assert [task["state"] for task in current_tasks(platform, master, "toobig")] == ["pending"]
    said = show(platform, "toobig")
    assert "0 of 1 running" in said
    assert "not enough memory or CPU free: it reserves 1048576 MiB" in said


def store_container(platform, node):
    """The id of the store's running container on ``node``."""
    return wait_for(
        f"the store running on {node}",
        lambda: platform.machines.exec(
            node, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=store"
        ).strip(),
    )


def redis(platform, node, *command):
    return platform.machines.exec(node, "docker", "exec", store_container(platform, node), "redis-cli", *command)


def test_a_resident_app_keeps_its_data_and_its_node(
    platform, master, private_agents, redis_image, apps, volumes, tmp_path
):
    apps.append("store")
    definition = {
        "id": "store",
        "image": redis_image,
        "volume": {"name": "store-data", "path": "/data"},
        "health": {"tcp": True, "port": 6379, "grace": 5, "interval": 2, "timeout": 2, "retries": 2},
    }
    result = deploy(platform, tmp_path, definition)
    assert result.returncode == 0, result.stderr
    home = platform.api().call("GET", "/v1/apps/store")["state"]["home"]
    assert home in private_agents
    volumes.append((home, "store-data"))
    other = next(agent for agent in private_agents if agent != home)
    assert redis(platform, home, "SET", "proof", "kept") == "OK\n"

    # Its task's container killed: the swarm starts another, on its node.
    killed = store_container(platform, home)
    platform.machines.exec(home, "docker", "kill", killed)
    wait_for("a new container", lambda: store_container(platform, home) != killed)

    # Its node's engine restarted: the app comes back there.
    before = store_container(platform, home)
    platform.machines.exec(home, "systemctl", "restart", "docker")
    wait_for("the store back after the engine's restart", lambda: store_container(platform, home) != before, 180)

    # A changed definition: replaced in place, stop-first.
    result = deploy(platform, tmp_path, {**definition, "env": {"STORE_VERSION": "2"}})
    assert result.returncode == 0, result.stderr
    assert "store: updated" in result.stdout
    assert redis(platform, home, "GET", "proof") == "kept\n"

    # Draining the other private agent does not move it.
    running = [t["id"] for t in current_tasks(platform, master, "store") if t["state"] == "running"]
    try:
        platform.machines.exec(master, "docker", "node", "update", "--availability", "drain", other)
        time.sleep(10)
        assert [t["id"] for t in current_tasks(platform, master, "store") if t["state"] == "running"] == running
    finally:
        platform.machines.exec(master, "docker", "node", "update", "--availability", "active", other)

    # Its own node drained: it waits for it, never moved, and says why.
    try:
        platform.machines.exec(master, "docker", "node", "update", "--availability", "drain", home)
        wait_for(
            "the store waiting",
            lambda: [t["state"] for t in current_tasks(platform, master, "store")] == ["pending"],
        )
        time.sleep(5)
        assert [t["state"] for t in current_tasks(platform, master, "store")] == ["pending"]
        assert f"its node {home}, where its volume lives, is drained" in show(platform, "store")
    finally:
        platform.machines.exec(master, "docker", "node", "update", "--availability", "active", home)
    assert wait_for("the data back", lambda: redis(platform, home, "GET", "proof")) == "kept\n"

    # Healthy again (a task is "starting" until its check passes), on its node only.
    wait_for(
        "the store healthy",
        lambda: [t["node"] for t in current_tasks(platform, master, "store") if t["state"] == "running"] == [home],
    )
    tasks = swarm_tasks(platform, master, "store")
    assert {task["node"] for task in tasks} <= {home, ""}, f"the store ran elsewhere: {tasks}"

    # More instances than its one volume allows: one sentence, nothing changed.
    version = platform.api().call("GET", "/v1/apps/store")["state"]["version"]
    result = platform.run("app", "scale", "store", "2")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flotilla: error: instances: must be 0 or 1"), result.stderr
    assert platform.api().call("GET", "/v1/apps/store")["state"]["version"] == version
