"""Images on the platform: hello, built here from Debian packages, runs as an
app, and every task says the node and task the swarm gave it.

The image is built on the operator's Docker (`flotilla image build`) and
moved to the agents with `docker save | docker load`; each answer is read
inside the task's own container on its own node, and compared with what the
swarm says about that task. The test removes the app it deployed.
"""

import json

import pytest
import yaml

from tests.e2e import workload
from tests.e2e.conftest import flotilla

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
