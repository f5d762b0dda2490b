"""Flotilla's images, built here from Debian packages, answer as their apps expect.

`flotilla image build` builds the shipped recipes on the host's Docker; each
image then runs as a plain container on a user-defined network, and its
answers are read back over that network from another container, as an app
on the cluster's overlay network would.
"""

import json
import time
import uuid

import pytest
from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners.images import RECIPES
from tests.e2e.conftest import flotilla

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built(docker_client):
    result = flotilla("image", "build", "hello", "redis")
    assert result.returncode == 0, result.stderr
    refs = dict(zip(("hello", "redis"), result.stdout.split(), strict=True))
    for name, ref in refs.items():
        image = docker_client.images.get(ref)
        assert ref == images.recipe_ref(RECIPES / name)
        assert image.labels[images.RECIPE_LABEL] == ref.split(":")[1]
    return refs


class Network:
    """A user-defined network and the containers and volumes a test made on it."""

    def __init__(self, docker_client):
        self.docker = docker_client
        self.name = f"img-e2e-{uuid.uuid4().hex[:8]}"
        self.net = docker_client.networks.create(self.name)
        self.containers = []
        self.volumes = []

    def start(self, ref, name, **options):
        container = self.docker.containers.run(ref, name=name, network=self.name, detach=True, **options)
        self.containers.append(container)
        return container

    def volume(self):
        volume = self.docker.volumes.create(f"{self.name}-{len(self.volumes)}")
        self.volumes.append(volume)
        return volume.name

    def client(self, ref):
        """A container of ``ref`` on the network, idle, to run commands in."""
        return self.start(ref, f"{self.name}-client-{len(self.containers)}", command=["sleep", "infinity"])

    def remove(self):
        for container in self.containers:
            container.remove(force=True)
        for volume in self.volumes:
            volume.remove()
        self.net.remove()


@pytest.fixture
def network(docker_client):
    network = Network(docker_client)
    yield network
    network.remove()
    assert not docker_client.containers.list(all=True, filters={"network": network.name})
    assert not docker_client.networks.list(names=[network.name])
    assert not [v for v in docker_client.volumes.list() if v.name.startswith(network.name)]


def run(container, command):
    """Run ``command`` in ``container``: its exit code and output (a failure's too)."""
    code, output = container.exec_run(command)
    return code, output.decode()


def until(read, wanted, seconds=20):
    """Read until the answer is ``wanted`` (a service just started may not answer yet); the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = read()
        if answer == wanted or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


FETCH = """
import sys, urllib.error, urllib.request
try:
    answer = urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as err:
    answer = err
print(answer.status, answer.read().decode())
"""


def get(client, url):
    code, output = run(client, ["python3", "-c", FETCH, url])
    if code:
        return code, output
    status, body = output.split(" ", 1)
    return int(status), json.loads(body)


def test_hello_names_its_node_and_task_and_says_its_message(docker_client, built, network):
    hello = built["hello"]
    env = {"FLOTILLA_NODE": "img-agent-1", "FLOTILLA_TASK": "hello.1.abc", "HELLO_MESSAGE": "version 2"}
    container = network.start(hello, "img-hello", environment=env)
    network.start(hello, "img-hello-sick", environment={"HELLO_UNHEALTHY": "1"})
    client = network.client(hello)

    wanted = {
        "node": "img-agent-1",
        "task": "hello.1.abc",
        "hostname": container.attrs["Config"]["Hostname"],
        "message": "version 2",
    }
    assert until(lambda: get(client, "http://img-hello:8080/"), (200, wanted)) == (200, wanted)
    assert get(client, "http://img-hello:8080/health") == (200, {"healthy": True})
    sick = (500, {"healthy": False})
    assert until(lambda: get(client, "http://img-hello-sick:8080/health"), sick) == sick

    # It stops when asked, not when killed after docker's 10 s.
    started = time.monotonic()
    container.stop(timeout=10)
    assert time.monotonic() - started < 5
    assert docker_client.api.inspect_container(container.id)["State"]["ExitCode"] == 0


def test_redis_keeps_data_in_its_volume_and_answers_on_the_network(docker_client, built, network):
    redis = built["redis"]
    container = network.start(redis, "img-redis", volumes={network.volume(): {"bind": "/data"}})
    client = network.client(redis)
    # From another container, by name: it listens on every interface, without protected mode.
    cli = ["redis-cli", "-h", "img-redis"]
    assert until(lambda: run(client, [*cli, "PING"]), (0, "PONG\n")) == (0, "PONG\n")
    assert run(client, [*cli, "SET", "greeting", "hello"]) == (0, "OK\n")
    assert run(container, ["redis-cli", "GET", "greeting"]) == (0, "hello\n")

    # Appended to the file in the volume, and read back from there after a restart.
    assert run(container, ["redis-cli", "CONFIG", "GET", "appendonly"]) == (0, "appendonly\nyes\n")
    container.restart(timeout=10)
    assert until(lambda: run(client, [*cli, "GET", "greeting"]), (0, "hello\n")) == (0, "hello\n")
    code, output = run(container, ["ls", "/data/appendonlydir"])
    assert code == 0 and ".aof" in output


def test_an_unchanged_recipe_is_not_built_again_and_a_changed_one_gets_a_new_tag(docker_client, built, tmp_path):
    before = {ref: docker_client.images.get(ref).id for ref in built.values()}
    result = flotilla("image", "build", "hello", "redis")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(built.values())
    assert result.stderr.count("already built") == 2
    assert {ref: docker_client.images.get(ref).id for ref in built.values()} == before

    recipe = tmp_path / "img-hello-changed"
    recipe.mkdir()
    for path in (RECIPES / "hello").iterdir():
        (recipe / path.name).write_bytes(path.read_bytes())
    (recipe / "hello.py").write_text((recipe / "hello.py").read_text() + "# changed\n")
    ref, was_built = images.build_recipe(docker_client, recipe)
    try:
        assert was_built and ref.startswith("flotilla/img-hello-changed:")
        assert images.build_recipe(docker_client, recipe) == (ref, False)
    finally:
        docker_client.images.remove(ref)


def test_an_unknown_recipe_is_refused_in_one_sentence(docker_client):
    result = flotilla("image", "build", "hello", "nosuch")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flotilla: error: there is no image recipe 'nosuch': choose from ")
    assert "hello" in lines[0] and result.stdout == ""
