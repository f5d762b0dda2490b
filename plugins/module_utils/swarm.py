# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local Docker engine's view of its swarm, through the Docker SDK.

Reads return plain data (see membership.py); writes are one call each. Every
Docker failure surfaces as SwarmError, never as "no change".
"""

from __future__ import annotations

import os
import time

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import (
    find,
    member_from_docker,
)
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import MANAGEMENT_PORT, MASTER, SWARM_ROLE

try:
    import docker
    import docker.errors

    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - reported by the module
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = err

# Task states in which a task still holds (or is about to hold) its node.
LIVE_TASK_STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
# Seconds a demoted manager's engine info may go on calling it a manager
# after its control socket is gone.
DEMOTION_SETTLES = 15


def routing_mesh_available():
    """Whether this kernel has IPVS, which the swarm's routing mesh (service
    VIPs, ingress-published ports) is built on; some kernels lack it. Docker
    loads the module on first use, so a loaded module is not required."""
    release = os.uname().release
    return (
        os.path.exists("/proc/net/ip_vs")
        or os.path.exists("/sys/module/ip_vs")
        or any(_lists_ipvs(f"/lib/modules/{release}/{name}") for name in ("modules.builtin", "modules.dep"))
    )


def _lists_ipvs(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return any("/ip_vs.ko" in line for line in handle)
    except OSError:
        return False


class SwarmError(Exception):
    pass


class Timeout(SwarmError):
    """A wait ran out: the swarm answered, but not yet as hoped."""


class LocalEngine:
    """The Docker engine on the host the module runs on."""

    def __init__(self):
        try:
            self.client = docker.from_env(timeout=30)
            self._info = self.client.info()
        except docker.errors.DockerException as err:
            raise SwarmError(f"the Docker engine on this host does not answer: {err}") from err

    @property
    def hostname(self):
        return self._info.get("Name", "")

    @property
    def swarm(self):
        return self._info.get("Swarm") or {}

    @property
    def member(self):
        return self.swarm.get("LocalNodeState") == "active"

    @property
    def manager(self):
        return self.member and bool(self.swarm.get("ControlAvailable"))

    def refresh(self):
        try:
            self._info = self.client.info()
        except docker.errors.DockerException as err:
            raise SwarmError(f"the Docker engine on this host stopped answering: {err}") from err

    def demotion_requested(self):
        """Whether this manager's own node is already marked to become a worker."""
        try:
            node = self.client.api.inspect_node(self.swarm.get("NodeID"))
        except docker.errors.APIError as err:
            # A demotion that finishes between reading the engine's info and
            # this read takes the control socket away before the engine's
            # info stops calling the node a manager: give the info that time.
            def worker_now():
                self.refresh()
                return not self.manager

            try:
                wait_until(worker_now, DEMOTION_SETTLES, "this node stops being a manager")
            except Timeout:
                raise SwarmError(f"could not read this node: {_explain(err)}") from err
            return True
        return node["Spec"].get("Role") == "worker"

    def members(self):
        """Every member, as this manager sees them; fails without quorum."""
        try:
            return [member_from_docker(n) for n in self.client.api.nodes()]
        except docker.errors.APIError as err:
            raise SwarmError(f"this manager cannot list the swarm's members: {_explain(err)}") from err

    def join_tokens(self):
        tokens = self._call("read the join tokens", self.client.api.inspect_swarm)["JoinTokens"]
        return {"worker": tokens["Worker"], "manager": tokens["Manager"]}

    def manager_addresses(self, members):
        """Where to join, the leader first: Docker tries only the first address."""
        managers = sorted((m for m in members if m.reachable and m.manager_addr), key=lambda m: not m.leader)
        return [m.manager_addr for m in managers]

    def init(self, advertise_addr):
        self._call(
            "create the swarm",
            self.client.api.init_swarm,
            advertise_addr=advertise_addr,
            listen_addr=f"0.0.0.0:{MANAGEMENT_PORT}",
        )

    def join(self, remote_addrs, token, advertise_addr):
        self._call(
            "join the swarm",
            self.client.api.join_swarm,
            remote_addrs=remote_addrs,
            join_token=token,
            listen_addr=f"0.0.0.0:{MANAGEMENT_PORT}",
            advertise_addr=advertise_addr,
        )

    def leave(self, force=False):
        self._call("leave the swarm", self.client.api.leave_swarm, force=force)

    def update(self, member):
        """Give the member's Docker node the member's role, availability, labels."""
        node = self._call("read the node", self.client.api.inspect_node, member.id)
        spec = dict(node["Spec"])
        spec.update(Role=member.role, Availability=member.availability, Labels=member.labels)
        self._call("update the node", self.client.api.update_node, member.id, node["Version"]["Index"], spec)

    def remove(self, member, force=False):
        self._call("remove the node", self.client.api.remove_node, member.id, force=force)

    def member_named(self, hostname):
        member = find(self.members(), hostname)
        if member is None:
            raise SwarmError(f"{hostname} disappeared from the member list during the change")
        return member

    def running_tasks(self, member):
        tasks = self._call(
            "list the node's tasks",
            self.client.api.tasks,
            filters={"node": member.id, "desired-state": "running"},
        )
        return [t for t in tasks if t.get("Status", {}).get("State") in LIVE_TASK_STATES]

    def services_on(self, member):
        """IDs of the services with a task on the member."""
        return {task["ServiceID"] for task in self.running_tasks(member)}

    def wait_role(self, hostname, swarm_role, timeout):
        def settled():
            member = self.member_named(hostname)
            if swarm_role == SWARM_ROLE[MASTER]:
                return member.manager and member.reachable
            # The role in the spec changes at once; the node has left the Raft
            # group (and can be removed) only once its manager status is gone.
            return not member.manager and member.reachability is None

        wait_until(settled, timeout, f"{hostname} is a {swarm_role}")

    def wait_tasks_moved(self, member, services, timeout):
        """Wait until the member runs no task and ``services`` run all theirs elsewhere."""

        def moved():
            if self.running_tasks(member):
                return False
            return all(self._service_running(service) for service in services)

        wait_until(moved, timeout, f"the tasks of {member.hostname} run elsewhere")

    def _service_running(self, service_id):
        tasks = self._call(
            "list the service's tasks",
            self.client.api.tasks,
            filters={"service": service_id, "desired-state": "running"},
        )
        return all(t.get("Status", {}).get("State") == "running" for t in tasks)

    def wait_left(self, hostname, timeout):
        """Whether the node went down (left) within ``timeout`` seconds; any
        other failure (the member list cannot be read) is raised as it is."""
        try:
            wait_until(lambda: self.member_named(hostname).state != "ready", timeout, f"{hostname} has left")
        except Timeout:
            return False
        return True

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except docker.errors.APIError as err:
            raise SwarmError(f"could not {what}: {_explain(err)}") from err


def wait_until(predicate, timeout, what, interval=0.5):
    """Poll ``predicate`` until it returns true, or raise SwarmError."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout} s waiting until {what}")
        time.sleep(interval)


def _explain(err):
    return getattr(err, "explanation", None) or str(err)


def local_engine(module):
    """The engine on this host, or the module's failure saying why not."""
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (python3-docker)"), exception=str(DOCKER_IMPORT_ERROR))
    try:
        return LocalEngine()
    except SwarmError as err:
        module.fail_json(msg=str(err))
