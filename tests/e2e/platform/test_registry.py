"""The cluster registry on the shared platform cluster: images reach agents from inside the cluster.

What is pushed is read back from the registry's own API (catalog, tags,
manifest); what runs is read from the swarm. The registry's node is the
first master (the role's default).
"""

import base64
import json
import ssl
import urllib.error
import urllib.request

import docker
import pytest
import yaml

from tests.e2e import workload
from tests.e2e.platform.conftest import REGISTRY_USER

PORT = 5000
REPOSITORY = "flotilla-e2e/web"


def registry(platform):
    return f"{platform.machines.address(f'{platform.name}-master-1')}:{PORT}"


def password(platform):
    return (platform.credentials / "registry-password").read_text().strip()


def registry_get(platform, path, auth=True):
    """(status, JSON body) of a GET to the registry, over TLS checked against the cluster's CA."""
    request = urllib.request.Request(f"https://{registry(platform)}{path}")
    request.add_header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
    if auth:
        basic = base64.b64encode(f"{REGISTRY_USER}:{password(platform)}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
    context = ssl.create_default_context(cafile=str(platform.credentials / "ca.pem"))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.fixture(scope="module")
def image():
    """The e2e web image, built in this machine's Docker."""
    client = docker.from_env()
    workload.build_image(client)
    return client.images.get(workload.IMAGE)


def push(platform, name):
    return platform.run("image", "push", name)


def pushed(platform):
    """Push the e2e web image; the reference `flotilla image push` printed."""
    result = push(platform, workload.IMAGE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.splitlines()[-1]


def test_anonymous_requests_are_refused(platform):
    assert registry_get(platform, "/v2/")[0] == 200
    assert registry_get(platform, "/v2/", auth=False)[0] == 401
    assert registry_get(platform, "/v2/_catalog", auth=False)[0] == 401


def test_pushed_image_is_in_the_registry(platform, image):
    reference = pushed(platform)

    assert reference == f"{registry(platform)}/{REPOSITORY}:1"
    assert REPOSITORY in registry_get(platform, "/v2/_catalog")[1]["repositories"]
    assert "1" in registry_get(platform, f"/v2/{REPOSITORY}/tags/list")[1]["tags"]
    # The very image of this machine: its config is the local image's ID.
    status, manifest = registry_get(platform, f"/v2/{REPOSITORY}/manifests/1")
    assert status == 200 and manifest["config"]["digest"] == image.id


def test_push_refuses_what_it_cannot_push(platform, image):
    status, before = registry_get(platform, "/v2/_catalog")
    assert status == 200

    absent = push(platform, "flotilla-e2e/absent:1")
    assert absent.returncode == 2, absent.stdout + absent.stderr
    assert absent.stderr.strip().splitlines() == [
        "flotilla: error: this machine's Docker has no image flotilla-e2e/absent:1; build or pull it first."
    ]

    stored = platform.credentials / "registry-password"
    aside = stored.with_name("registry-password.aside")
    stored.rename(aside)
    try:
        refused = push(platform, workload.IMAGE)
    finally:
        aside.rename(stored)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "holds no registry password" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    assert registry_get(platform, "/v2/_catalog")[1] == before


def test_verbose_push_shows_no_secret(platform, image, monkeypatch):
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")  # -vvv for the playbook flotilla runs
    result = push(platform, workload.IMAGE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "ESTABLISH SSH CONNECTION" in output, "the run was not verbose"
    platform.assert_no_secret(output)


def tasks_on(platform, app_id):
    """{node: task state} of the app's tasks the swarm means to run, read on a master."""
    lines = platform.machines.exec(
        f"{platform.name}-master-1",
        "docker",
        "service",
        "ps",
        app_id,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}}\t{{.CurrentState}}\t{{.Image}}",
    ).splitlines()
    return {node: (state.split()[0].lower(), image) for node, state, image in (line.split("\t") for line in lines)}


def test_node_added_by_scale_pulls_from_the_registry(platform, image, tmp_path):
    """The issue's test 9: a new agent, with no image of its own, runs an app
    whose image comes from the registry; then the cluster is as it was."""
    reference = pushed(platform)
    before = {c.name for c in platform.machines.containers()}
    agents = len(platform.machines.inventory_groups()["agents_private"])
    app_id = "registry-pull"
    try:
        scaled = platform.run("scale", "--agents", str(agents + 1))
        assert scaled.returncode == 0, scaled.stdout[-3000:] + scaled.stderr[-3000:]
        (new,) = {c.name for c in platform.machines.containers()} - before
        assert platform.machines.exec(new, "docker", "images", "--quiet") == ""

        definition = tmp_path / "app.yml"
        definition.write_text(
            yaml.safe_dump(
                {
                    "id": app_id,
                    "image": reference,
                    "instances": 1,
                    "health": {"http": "/", "port": workload.PORT},
                    "placement": {"equals": {"flotilla.name": new}},
                }
            )
        )
        deployed = platform.run("app", "deploy", "-f", str(definition))
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

        assert tasks_on(platform, app_id) == {new: ("running", reference)}
        # The new node's engine holds the image now, pulled from the registry.
        assert platform.machines.exec(new, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").split() == [
            reference
        ]
    finally:
        platform.run("app", "remove", app_id)
        for added in {c.name for c in platform.machines.containers()} - before:
            removed = platform.run("remove", added)
            assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
    # The cluster as it was: no app, no new agent.
    master = f"{platform.name}-master-1"
    assert app_id not in platform.machines.exec(master, "docker", "service", "ls", "--format", "{{.Name}}").split()
    assert set(platform.machines.members(through=master)) == before
    assert {c.name for c in platform.machines.containers()} == before
