"""Real clusters of containers: helpers that read the swarm itself.

Every assertion about membership goes through a manager's own Docker
engine (`docker node inspect` inside the machine), never through Ansible's
output.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest
import yaml

from provisioners import cluster
from provisioners.providers.base import TAG_CLUSTER
from provisioners.workspace import Workspace

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session", autouse=True)
def inventories(tmp_path_factory):
    # A cluster kept between runs keeps its files (its SSH key) too.
    if os.environ.get("FLOTILLA_E2E_KEEP") == "1":
        path = Path(tempfile.gettempdir()) / "flotilla-e2e-kept"
        path.mkdir(exist_ok=True)
    else:
        path = tmp_path_factory.mktemp("inventories")
    previous = os.environ.get("FLOTILLA_INVENTORIES")
    os.environ["FLOTILLA_INVENTORIES"] = str(path)
    yield path
    if previous is None:
        del os.environ["FLOTILLA_INVENTORIES"]
    else:
        os.environ["FLOTILLA_INVENTORIES"] = previous


@pytest.fixture(scope="session")
def docker_client():
    return docker.from_env()


def flotilla(*args, env=None):
    """Run the `flotilla` command as a user would, in a subprocess."""
    command = [str(Path(sys.executable).parent / "flotilla"), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=900)


NOTHING = {"containers": [], "networks": [], "volumes": []}


def take_down(docker_client, name):
    """`flotilla down`, checked: it succeeds and leaves nothing with the cluster's label, and no files.

    Every e2e fixture ends with this, so that a failing teardown fails the run
    instead of leaking machines into the next test.
    """
    result = flotilla("down", "--name", name)
    machines = Machines(docker_client, name)
    assert result.returncode == 0, f"flotilla down --name {name} failed: {result.stderr[-3000:]}"
    assert machines.leftovers() == NOTHING, f"flotilla down --name {name} left these behind"
    assert not machines.workspace.path.exists(), f"flotilla down --name {name} left {machines.workspace.path}"


@contextlib.contextmanager
def cluster_up(docker_client, name, *options, command="up"):
    """A cluster made by `flotilla COMMAND --name NAME OPTIONS` (up, or provision for
    machines only), taken down after with `take_down`."""
    try:
        result = flotilla(command, "--name", name, *options)
        assert result.returncode == 0, (
            result.stdout[-3000:] + result.stderr[-3000:] + machine_states(docker_client, name)
        )
        yield Machines(docker_client, name)
    finally:
        take_down(docker_client, name)


def machine_states(docker_client, name):
    """Docker's account of each machine of the cluster: its state, and for one
    that is not running, how it ended and its last log lines (systemd's)."""
    lines = []
    for container in Machines(docker_client, name).containers():
        state = container.attrs["State"]
        lines.append(
            f"\n{container.name}: {state['Status']}, exit code {state['ExitCode']}, error {state['Error']!r}, "
            f"OOM-killed {state['OOMKilled']}, started {state['StartedAt']}, finished {state['FinishedAt']}"
        )
        if state["Status"] != "running":
            lines.append(container.logs(tail=40).decode(errors="replace"))
    return "".join(lines)


class Machines:
    """One cluster's machines and swarm, read from Docker and from the swarm."""

    def __init__(self, client, name):
        self.client = client
        self.name = name

    @property
    def workspace(self):
        return Workspace(self.name)

    def containers(self):
        return self.client.containers.list(all=True, filters={"label": f"{TAG_CLUSTER}={self.name}"})

    def leftovers(self):
        """Everything Docker holds with the cluster's label, by kind, sorted by name."""
        label = {"label": f"{TAG_CLUSTER}={self.name}"}
        return {
            "containers": sorted(c.name for c in self.client.containers.list(all=True, filters=label)),
            "networks": sorted(n.name for n in self.client.networks.list(filters=label)),
            "volumes": sorted(v.name for v in self.client.volumes.list(filters=label)),
        }

    def exec(self, machine, *command):
        # Docker's own CLI, not the SDK's exec_run: on a busy machine the SDK's
        # frame reader once lost its place in a long output (a frame header
        # turned up inside `docker node inspect`'s JSON).
        result = subprocess.run(["docker", "exec", machine, *command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{command} on {machine}: {result.stdout}{result.stderr}"
        return result.stdout

    def address(self, machine):
        networks = self.client.containers.get(machine).attrs["NetworkSettings"]["Networks"]
        return networks[f"flotilla-{self.name}"]["IPAddress"]

    def members(self, through):
        """The swarm's member list, as the manager ``through`` reports it."""
        ids = self.exec(through, "docker", "node", "ls", "-q").split()
        nodes = json.loads(self.exec(through, "docker", "node", "inspect", *ids))
        return {
            n["Description"]["Hostname"]: {
                "role": n["Spec"]["Role"],
                "availability": n["Spec"]["Availability"],
                "state": n["Status"]["State"],
                "labels": n["Spec"].get("Labels") or {},
                "reachability": (n.get("ManagerStatus") or {}).get("Reachability"),
                "leader": bool((n.get("ManagerStatus") or {}).get("Leader")),
            }
            for n in nodes
        }

    def inventory_groups(self):
        data = yaml.safe_load(self.workspace.inventory_file.read_text())
        groups = data["cluster"]["children"]
        agents = groups["agents"]["children"]
        return {
            "masters": set(groups["masters"]["hosts"] or {}),
            "agents_private": set(agents["agents_private"]["hosts"] or {}),
            "agents_public": set(agents["agents_public"]["hosts"] or {}),
        }

    def assert_membership_matches_inventory(self, through, settle=30):
        # A new leader reports every node "unknown" until its first heartbeat.
        deadline = time.monotonic() + settle
        members = self.members(through)
        while {m["state"] for m in members.values()} != {"ready"} and time.monotonic() < deadline:
            time.sleep(1)
            members = self.members(through)
        groups = self.inventory_groups()
        assert {h for h, m in members.items() if m["role"] == "manager"} == groups["masters"]
        assert {h for h, m in members.items() if m["role"] == "worker"} == (
            groups["agents_private"] | groups["agents_public"]
        )
        assert {m["state"] for m in members.values()} == {"ready"}
        return members

    def site(self, extravars=None):
        return cluster.runner.run_playbook(self.workspace.inventory_file, "playbooks/site.yml", extravars)
