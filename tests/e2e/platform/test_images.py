"""Images on the platform: hello, built here from Debian packages, runs as an
app, and every task says the node and task the swarm gave it; the module
`flotilla.cluster.image` builds the same tag on a node; the public agent
loaded the edge's image built once on this host instead of building it.

The image is built on the operator's Docker (`flotilla image build`) and
moved to the agents with `docker save | docker load`; each answer is read
inside the task's own container on its own node, and compared with what the
swarm says about that task. The test removes the app it deployed.
"""

import json
import os

import pytest
import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners.images import RECIPES
from provisioners.providers.local.archives import archives_dir
from tests.e2e import workload
from tests.e2e.conftest import flotilla
from tests.e2e.test_membership import module

APP = "img-hello"
# The scheduler wants a registry in an image's name; the agents find the
# image in their own engines (loaded below) after a pull that fails at once.
REGISTRY = "localhost:5000"
HEALTH = {"http": "/health", "port": 8080, "grace": 5, "interval": 2, "timeout": 2, "retries": 2}
FETCH = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/', timeout=5).read().decode())"


@pytest.fixture(scope="module")
def hello(platform, docker_client):
    result = flotilla("image", "build", "hello")
    assert result.returncode == 0, result.stderr
    built = result.stdout.strip()
    image = f"{REGISTRY}/{built.removeprefix('flotilla/')}"
    agents = [c.name for c in platform.machines.containers() if "-agent-" in c.name]
    workload.load_image(platform.machines, b"".join(docker_client.images.get(built).save(named=True)), agents)
    for agent in agents:
        platform.machines.exec(agent, "docker", "tag", built, image)
    return image


@pytest.fixture
def deployed(platform):
    yield
    platform.run("app", "remove", APP)
    names = platform.machines.exec(_manager(platform), "docker", "service", "ls", "--format", "{{.Name}}").split()
    assert APP not in names, f"{APP} is still a swarm service"


def _manager(platform):
    return f"{platform.name}-master-1"


def _inspect(platform, *what):
    return json.loads(platform.machines.exec(_manager(platform), "docker", *what))


def test_every_task_of_an_app_knows_its_node_and_task(platform, hello, deployed, tmp_path):
    definition = tmp_path / "hello.yml"
    definition.write_text(
        yaml.safe_dump({"id": APP, "image": hello, "instances": 2, "env": {"HELLO_MESSAGE": "v1"}, "health": HEALTH})
    )
    result = platform.run("app", "deploy", "-f", str(definition))
    assert result.returncode == 0, result.stdout + result.stderr

    ids = platform.machines.exec(_manager(platform), "docker", "service", "ps", "-q", "--no-trunc", APP).split()
    running = [task for task in _inspect(platform, "inspect", *ids) if task["Status"]["State"] == "running"]
    assert len(running) == 2
    for task in running:
        node = _inspect(platform, "node", "inspect", task["NodeID"])[0]["Description"]["Hostname"]
        container = task["Status"]["ContainerStatus"]["ContainerID"]
        answer = json.loads(platform.machines.exec(node, "docker", "exec", container, "python3", "-c", FETCH))
        assert answer["node"] == node
        assert answer["task"] == f"{APP}.{task['Slot']}.{task['ID']}"
        assert answer["message"] == "v1"


def test_the_module_builds_a_recipe_on_a_node_with_the_same_tag_four_ways(platform):
    """flotilla.cluster.image on a node (Debian's engine and python3-docker):
    check, build, idempotent, idempotent + check; read back from the node's
    engine. The public agent has the builder's tools from the edge's tasks,
    but not the base (the edge came saved): mmdebstrap makes it there first."""
    machines = platform.machines
    host = sorted(machines.inventory_groups()["agents_public"])[0]
    path = "/var/lib/flotilla/images/hello"
    module(machines, host, "ansible.builtin.copy", {"src": f"{RECIPES / 'hello'}/", "dest": f"{path}/"})
    wanted = images.recipe_ref(RECIPES / "hello")

    def on_node():
        return set(machines.exec(host, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").split())

    def build(check=False):
        return module(machines, host, "flotilla.cluster.image", {"path": path}, check=check, diff=False)

    assert wanted not in on_node()
    try:
        checked = build(check=True)
        assert (checked["changed"], checked["built"], checked["image"]) == (True, True, wanted)
        assert wanted not in on_node()
        built = build()
        assert (built["changed"], built["image"], built["base"]) == (True, wanted, images.base_ref())
        assert {wanted, images.base_ref()} <= on_node()
        for check in (False, True):
            again = build(check=check)
            assert (again["changed"], again["built"], again["image"]) == (False, False, wanted)

        answer = machines.exec(
            host, "docker", "run", "--rm", "-e", "HELLO_MESSAGE=on a node", wanted, "python3", "-c", NODE_FETCH
        )
        assert json.loads(answer)["message"] == "on a node"
    finally:
        machines.exec(host, "sh", "-c", f"docker image rm {wanted} >/dev/null 2>&1; rm -rf {path}")


def test_the_public_agents_load_the_edge_built_once_on_this_host(platform, docker_client):
    """A build on the node would make an image of another ID than this host's."""
    ref = images.recipe_ref(RECIPES / "edge")
    assert os.path.isfile(images.archive_path(archives_dir(), ref))
    for host in platform.machines.inventory_groups()["agents_public"]:
        on_node = platform.machines.exec(host, "docker", "image", "inspect", "--format", "{{.Id}}", ref).strip()
        assert on_node == docker_client.images.get(ref).id, f"{host} built {ref} instead of loading it"


# Starts the service in the container and asks it once, without a network of its own.
NODE_FETCH = """
import json, subprocess, time, urllib.request
server = subprocess.Popen(["python3", "/usr/local/bin/hello"])
for _ in range(50):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8080/", timeout=2).read().decode())
        break
    except OSError:
        time.sleep(0.2)
server.terminate()
"""
