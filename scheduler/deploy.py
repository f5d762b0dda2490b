"""Deployments: an app definition made true in the swarm, and read back from it.

The swarm's own Raft store is the only state: an app is the service that
carries its labels, its definition is in those labels, its health is the
states of the tasks of its current version (a task with a health check is
"running" only once healthy), and whether a deployment went back is the
service's update status (see outcome.py).

    apps = Apps(docker.from_env().api)
    result = apps.deploy(parse_app(data))    # created, updated or unchanged
    apps.state(result.app_id)                # running, pending and why, ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import docker

from .definition import parse_app
from .placement import Node, PlacementError, choose_node, home_problem, waiting_reason
from .service import (
    APP_LABEL,
    APPS_NETWORK,
    DEFINITION_LABEL,
    NODE_LABEL,
    TEMPLATE_LABEL,
    VERSION_LABEL,
    service_spec,
)


class RouteTaken(ValueError):
    """Another app is exposed on the same host and path: the edge could send
    the requests to only one of them."""


@dataclass(frozen=True)
class Deployment:
    app_id: str
    version: str
    change: str  # created | updated | unchanged


@dataclass
class AppState:
    """An app as the swarm runs it now."""

    id: str
    version: str
    desired: int
    running: int = 0  # of this version, running and, with a health check, healthy
    nodes: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # why each waiting task waits
    deployment: str = "completed"  # the swarm's update state
    home: str | None = None  # a resident app's node, where its volume lives


def _template(task_spec):
    return task_spec.get("ContainerSpec", {}).get("Labels", {}).get(TEMPLATE_LABEL)


def _spec_arguments(spec):
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": spec["Labels"],
        "mode": spec["Mode"],
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec["EndpointSpec"],
    }


class Apps:
    """The apps of one swarm, through the Engine API of one of its managers."""

    def __init__(self, api: docker.APIClient):
        self.api = api

    def ensure_network(self):
        """The overlay network the apps share; attachable, so that a one-off
        container (a job, a debugging shell) can join it too."""
        if not self.api.networks(names=[APPS_NETWORK]):
            self.api.create_network(
                APPS_NETWORK, driver="overlay", attachable=True, check_duplicate=True, labels={APP_LABEL: ""}
            )

    def _service(self, app_id):
        found = self.api.services(filters={"name": app_id, "label": APP_LABEL})
        return next((service for service in found if service["Spec"]["Name"] == app_id), None)

    def nodes(self):
        """Every node of the swarm, with the number of tasks it is asked to run."""
        tasks = {}
        for task in self.api.tasks(filters={"desired-state": "running"}):
            tasks[task.get("NodeID")] = tasks.get(task.get("NodeID"), 0) + 1
        return [Node.from_swarm(node, tasks.get(node["ID"], 0)) for node in self.api.nodes()]

    def home(self, app, current):
        """The node a resident app lives on: the one its service already names
        (whichever master deployed it, whatever changed since), or, on its
        first deployment, the node chosen for its volume. PlacementError when
        there is none, or when the definition now excludes it."""
        home = (current or {}).get("Spec", {}).get("Labels", {}).get(NODE_LABEL)
        if home is None:
            return choose_node(app, self.nodes())
        problem = home_problem(app, home, self.nodes())
        if problem:
            raise PlacementError(problem)
        return home

    def deploy(self, app):
        """Create or update the service of ``app``; unchanged when the swarm
        already runs this exact definition. PlacementError, before anything
        changes, when a resident app has no node to live on; RouteTaken when
        another app is exposed on the same route."""
        if app.expose is not None:
            self._check_route(app)
        current = self._service(app.id)
        node = self.home(app, current) if app.resident else None
        self.ensure_network()
        spec = service_spec(app, node=node)
        version = spec["Labels"][VERSION_LABEL]
        if current is None:
            self.api.create_service(**_spec_arguments(spec))
            return Deployment(app.id, version, "created")
        if current["Spec"]["Labels"].get(VERSION_LABEL) == version:
            return Deployment(app.id, version, "unchanged")
        self.api.update_service(current["ID"], current["Version"]["Index"], **_spec_arguments(spec))
        return Deployment(app.id, version, "updated")

    def _check_route(self, app):
        for other in self.definitions():
            if other.id != app.id and other.expose is not None and other.expose.route == app.expose.route:
                host, path = app.expose.route
                raise RouteTaken(
                    f"{app.id}: {other.id} is exposed on {host or 'any host'} at {path} already;"
                    " give expose.host or expose.path another value"
                )

    def definition(self, app_id):
        """The definition the swarm runs for ``app_id``, or None."""
        service = self._service(app_id)
        return None if service is None else parse_app(json.loads(service["Spec"]["Labels"][DEFINITION_LABEL]))

    def definitions(self):
        """Every app's definition, as the swarm runs it."""
        services = self.api.services(filters={"label": APP_LABEL})
        return [parse_app(json.loads(service["Spec"]["Labels"][DEFINITION_LABEL])) for service in services]

    def state(self, app_id):
        service = self._service(app_id)
        if service is None:
            return None
        labels = service["Spec"]["Labels"]
        state = AppState(
            app_id,
            labels.get(VERSION_LABEL, ""),
            service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 0),
            deployment=service.get("UpdateStatus", {}).get("State", "completed"),
            home=labels.get(NODE_LABEL),
        )
        template = _template(service["Spec"]["TaskTemplate"])
        nodes = app = None
        for task in self.api.tasks(filters={"service": service["ID"], "desired-state": "running"}):
            status = task["Status"]
            if status["State"] == "running":
                # A task of the version being replaced is not this version's.
                if _template(task["Spec"]) == template:
                    state.running += 1
                    state.nodes.append(self._hostname(task["NodeID"]))
                continue
            error = status.get("Err") or status.get("Message", "")
            if status["State"] == "pending":
                # The nodes are read only when a task waits, to say why.
                if nodes is None:
                    nodes, app = self.nodes(), parse_app(json.loads(labels[DEFINITION_LABEL]))
                error = waiting_reason(app, error, nodes, home=state.home)
            state.pending.append(f"{status['State']}: {error}")
        state.nodes.sort()
        return state

    def list(self):
        names = sorted(service["Spec"]["Name"] for service in self.api.services(filters={"label": APP_LABEL}))
        return [self.state(name) for name in names]

    def _hostname(self, node_id):
        return self.api.inspect_node(node_id)["Description"]["Hostname"] if node_id else ""

    def rollback(self, app_id):
        """Go back to the definition deployed before this one."""
        service = self._service(app_id)
        previous = service.get("PreviousSpec") if service else None
        if previous is None:
            raise LookupError(f"{app_id} has no previous version to go back to")
        spec = {**previous, "Mode": previous.get("Mode", {}), "EndpointSpec": previous.get("EndpointSpec")}
        self.api.update_service(service["ID"], service["Version"]["Index"], **_spec_arguments(spec))
        return Deployment(app_id, previous["Labels"].get(VERSION_LABEL, ""), "updated")

    def remove(self, app_id):
        """Remove the app's service; True if there was one."""
        service = self._service(app_id)
        if service is None:
            return False
        self.api.remove_service(service["ID"])
        return True
