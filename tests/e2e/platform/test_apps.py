"""Apps through the scheduler, end to end: health-gated deployments and
rollbacks, discovery by name, a master lost, credentials and bad input.

Every assertion reads the swarm (services, tasks, their states) or the
network; the CLI's words are checked only where saying something is the
feature (a deployment rolled back, a definition refused). Each test removes
the apps it deployed.
"""

import json
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.e2e import workload
from tests.e2e.conftest import flotilla

MASTER = "master-1"
# The scheduler refuses an image that names no registry; the nodes find this
# one in their own engines (loaded below), after a pull that fails at once.
IMAGE = "localhost:5000/web:1"
HEALTH = {"http": "/", "port": workload.PORT, "grace": 5, "interval": 2, "timeout": 2, "retries": 2}


@pytest.fixture(scope="module")
def cluster(platform, docker_client):
    agents = [c.name for c in platform.machines.containers() if "-master-" not in c.name]
    tarball = workload.build_image(docker_client)
    workload.load_image(platform.machines, tarball, agents)
    for agent in agents:
        platform.machines.exec(agent, "docker", "tag", workload.IMAGE, IMAGE)
    return platform


@pytest.fixture
def deployed(cluster):
    """App ids a test deploys; each is removed after the test."""
    ids = []
    yield ids
    for app_id in ids:
        cluster.run("app", "remove", app_id)
        assert not _services(cluster, app_id), f"{app_id} is still a swarm service"


def _app(app_id, **fields):
    return {"id": app_id, "image": IMAGE, "instances": 2, "health": HEALTH, **fields}


def _deploy(cluster, tmp_path, definition):
    path = tmp_path / f"{definition.get('id', 'app')}.yml"
    path.write_text(yaml.safe_dump(definition))
    return cluster.run("app", "deploy", "-f", str(path))


def _manager(cluster):
    return f"{cluster.name}-{MASTER}"


def _services(cluster, app_id):
    names = cluster.machines.exec(_manager(cluster), "docker", "service", "ls", "--format", "{{.Name}}").split()
    return [name for name in names if name == app_id]


def _service(cluster, app_id, through=None):
    return json.loads(cluster.machines.exec(through or _manager(cluster), "docker", "service", "inspect", app_id))[0]


def _tasks(cluster, app_id, through=None):
    """Every task the swarm keeps for the app, with its state and node."""
    through = through or _manager(cluster)
    ids = cluster.machines.exec(through, "docker", "service", "ps", "-q", "--no-trunc", app_id).split()
    return json.loads(cluster.machines.exec(through, "docker", "inspect", *ids)) if ids else []


def _running(cluster, app_id):
    return {t["ID"]: t for t in _tasks(cluster, app_id) if t["Status"]["State"] == "running"}


def test_a_version_that_fails_its_health_check_is_rolled_back(cluster, deployed, tmp_path):
    deployed.append("roll")
    first = _deploy(cluster, tmp_path, _app("roll", env={"RELEASE": "1"}))
    assert first.returncode == 0, first.stderr
    version = _service(cluster, "roll")["Spec"]["Labels"]["flotilla.version"]
    serving = set(_running(cluster, "roll"))
    assert len(serving) == 2

    # The old tasks must serve throughout: read them while the new version fails.
    stopped = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            missing = serving - set(_running(cluster, "roll"))
            if missing:
                stopped.append(missing)
            time.sleep(0.5)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        broken = _app("roll", env={"RELEASE": "2"}, health={**HEALTH, "http": "/missing"})
        second = _deploy(cluster, tmp_path, broken)
    finally:
        done.set()
        watcher.join()

    assert second.returncode == 1, second.stdout + second.stderr
    assert "rolled back" in second.stderr
    service = _service(cluster, "roll")
    assert service["Spec"]["Labels"]["flotilla.version"] == version
    assert service["UpdateStatus"]["State"] == "rollback_completed"
    assert set(_running(cluster, "roll")) == serving
    assert not stopped, f"old tasks stopped during the failed deployment: {stopped}"

    # The version it went back to, deployed again (the file reverted): the
    # rollback's status stays, but says nothing about this deployment.
    again = _deploy(cluster, tmp_path, _app("roll", env={"RELEASE": "1"}))
    assert again.returncode == 0, again.stdout + again.stderr
    assert _service(cluster, "roll")["UpdateStatus"]["State"] == "rollback_completed"
    assert set(_running(cluster, "roll")) == serving


def _resolve(cluster, app_id, name):
    """The addresses ``name`` resolves to inside one of ``app_id``'s containers."""
    answer = _exec_in(cluster, app_id, "nslookup", "-type=a", name)
    # busybox prints its server ("Address: 127.0.0.11:53") first, then the name's addresses.
    lines = answer.split("Name:", 1)[-1].splitlines() if "Name:" in answer else []
    return {line.split()[-1] for line in lines if line.startswith("Address:")}


def _hostname(cluster, node_id):
    node = json.loads(cluster.machines.exec(_manager(cluster), "docker", "node", "inspect", node_id))[0]
    return node["Description"]["Hostname"]


def _addresses(cluster, app_id):
    """The overlay addresses of the app's running tasks, as the swarm records them."""
    return {
        attachment["Addresses"][0].split("/")[0]
        for task in _running(cluster, app_id).values()
        for attachment in task.get("NetworksAttachments", [])
        if attachment["Network"]["Spec"]["Name"] == "flotilla-apps"
    }


def test_an_app_reaches_another_by_name_and_sees_it_scale(cluster, deployed, tmp_path):
    deployed.extend(["named", "caller"])
    for app_id in ("named", "caller"):
        result = _deploy(cluster, tmp_path, _app(app_id, instances=1 if app_id == "caller" else 2))
        assert result.returncode == 0, result.stderr
    assert _resolve(cluster, "caller", "tasks.named") == _addresses(cluster, "named") != set()
    page = _exec_in(cluster, "caller", "wget", "-q", "-O", "-", f"http://named:{workload.PORT}/")
    assert page == workload.PAGE.decode()

    scaled = cluster.run("app", "scale", "named", "4")
    assert scaled.returncode == 0, scaled.stderr
    assert len(_addresses(cluster, "named")) == 4
    # The engine's DNS lists a task once it is healthy; the deploy waited for that.
    assert _resolve(cluster, "caller", "tasks.named") == _addresses(cluster, "named")


def _exec_in(cluster, app_id, *command):
    task = next(iter(_running(cluster, app_id).values()))
    node = _hostname(cluster, task["NodeID"])
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    return cluster.machines.exec(node, "docker", "exec", container, workload.BUSYBOX, *command)


def test_a_bad_definition_is_refused_whole_and_running_apps_are_untouched(cluster, deployed, tmp_path):
    deployed.append("steady")
    assert _deploy(cluster, tmp_path, _app("steady")).returncode == 0
    before = _service(cluster, "steady")

    bad = {"id": "steady", "image": "web:2", "instances": -1, "health": {"http": "health"}, "colour": "blue"}
    result = _deploy(cluster, tmp_path, bad)

    assert result.returncode == 2, result.stdout + result.stderr
    for field in ("image", "instances", "health.http", "colour"):
        assert f"error: {field}" in result.stderr, result.stderr
    after = _service(cluster, "steady")
    assert after["Version"] == before["Version"]
    assert after["Spec"] == before["Spec"]


def test_a_deployment_the_swarm_refuses_is_said_in_one_sentence(cluster, tmp_path):
    """The edge's service is not an app: an app of its name is refused by the
    swarm, and that is what the user reads, not "no scheduler answers"."""
    before = _service(cluster, "flotilla-edge")
    result = _deploy(cluster, tmp_path, _app("flotilla-edge"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flotilla: error: the swarm refused: "), result.stderr
    assert _service(cluster, "flotilla-edge")["Version"] == before["Version"]


def _get(url, ca_file, token=None):
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_every_router_refuses_a_missing_or_wrong_token(cluster):
    api = cluster.api()
    assert len(api.routers) == 3
    for router in api.routers:
        url = f"{router}/v1/apps"
        assert _get(url, api.ca_file) == 401
        assert _get(url, api.ca_file, token="not-" + api.token) == 401
        assert _get(url, api.ca_file, token=api.token) == 200


def test_no_command_prints_a_secret_even_verbose(cluster, deployed, tmp_path):
    deployed.append("quiet")
    path = tmp_path / "quiet.yml"
    path.write_text(yaml.safe_dump(_app("quiet")))
    commands = [
        ("deploy", "-f", str(path)),
        ("list",),
        ("show", "quiet"),
        ("scale", "quiet", "1"),
        ("rollback", "quiet"),
        ("remove", "quiet"),
    ]
    outputs = [flotilla("-v", "app", *command, "--name", cluster.name) for command in commands]
    assert all(result.returncode == 0 for result in outputs), [r.stderr for r in outputs]
    assert not _services(cluster, "quiet")
    for result in outputs:
        cluster.assert_no_secret(result.stdout + result.stderr)


def test_with_the_answering_master_stopped_another_lists_and_deploys(cluster, deployed, tmp_path):
    deployed.append("survivor")
    machines = cluster.machines
    first = f"{cluster.name}-{MASTER}"
    address = machines.address(first)
    survivor = f"{cluster.name}-master-2"
    machines.client.containers.get(first).stop(timeout=10)
    try:
        listed = cluster.run("app", "list")
        assert listed.returncode == 0, listed.stderr
        result = _deploy(cluster, tmp_path, _app("survivor"))
        assert result.returncode == 0, result.stderr
        assert len(_running_through(cluster, "survivor", survivor)) == 2
        assert "survivor" in listed.stdout or "survivor" in cluster.run("app", "list").stdout
    finally:
        machines.client.containers.get(first).start()
        _wait_rejoined(cluster, first, survivor, address)


def _running_through(cluster, app_id, manager):
    return [t for t in _tasks(cluster, app_id, through=manager) if t["Status"]["State"] == "running"]


def _wait_rejoined(cluster, master, through, address, timeout=120):
    """The stopped master is back: same address, a reachable manager again."""
    assert cluster.machines.address(master) == address, "the master came back on another address"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            member = cluster.machines.members(through).get(master, {})
        except AssertionError:
            member = {}
        if member.get("reachability") == "reachable" and member.get("state") == "ready":
            return
        time.sleep(2)
    raise AssertionError(f"{master} did not rejoin the swarm as a reachable manager in {timeout} s")


def test_site_yml_deploys_scheduler_apps_and_its_second_run_changes_nothing(cluster, deployed):
    deployed.append("listed")
    apps = {"scheduler_apps": [_app("listed")]}
    first = cluster.machines.site(apps)
    assert len(_running(cluster, "listed")) == 2
    assert sum(first.stats.get("changed", {}).values()) > 0
    # Again at -vvv: no secret of the cluster shows (the API token the role
    # sends, the registry's password), and nothing changes.
    changed = cluster.verbose_site(apps)
    assert changed and set(changed.values()) == {0}, changed
