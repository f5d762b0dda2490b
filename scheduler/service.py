"""From an app definition to the swarm service that runs it.

The swarm is the resource layer: it places tasks by reservations and
constraints, replaces them in the order and pace of its update settings, and
rolls back when they do not become healthy. This module only says, in the
Engine API's words (a ServiceSpec), what the definition asks of it. It keeps
no state of its own: the definition travels in the service's labels, so any
master can read it back.
"""

from __future__ import annotations

import hashlib
import json
import math

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import pool_constraint

from .definition import App, to_data

# The service's labels: which app it is, which version of its definition,
# and the definition itself.
APP_LABEL = "flotilla.app"
VERSION_LABEL = "flotilla.version"
# On each task: the digest of the task template it was made from.
TEMPLATE_LABEL = "flotilla.template"
DEFINITION_LABEL = "flotilla.definition"
# A resident app's node: where its volume lives, chosen at its first
# deployment and kept by every later one.
NODE_LABEL = "flotilla.node"
# The attachable overlay network every app joins, where each finds the
# others by name (`<id>`, `tasks.<id>`).
APPS_NETWORK = "flotilla-apps"
# Where the probe (Debian's static busybox on each agent) is mounted in an
# app's containers, so that an HTTP or TCP check needs nothing in the image.
PROBE_SOURCE = "/bin/busybox"
# Named busybox, since busybox takes its applet from the name it is run by.
PROBE = "/.flotilla/busybox"

# Where each task runs, in every app's environment: the swarm fills in its
# own templates when it creates the task. They take precedence over an
# app's own values of the same names, which could only be wrong.
PLACE_ENV = {"FLOTILLA_NODE": "{{.Node.Hostname}}", "FLOTILLA_TASK": "{{.Task.Name}}"}

_SECOND = 1_000_000_000  # the Engine API counts durations in nanoseconds
_MIB = 1024 * 1024


def definition_json(app):
    return json.dumps(to_data(app), sort_keys=True, separators=(",", ":"))


def _digest(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def health_test(health):
    """The container health check, as the Engine API's Healthcheck.Test."""
    if health.kind == "command":
        return ["CMD", *health.command]
    # Debian's busybox: its nc has no -z (an empty stdin ends the connection)
    # and its wget crashes with -T; the engine's own timeout bounds the check.
    if health.kind == "tcp":
        return ["CMD", PROBE, "nc", "-w", str(health.timeout), "127.0.0.1", str(health.port)]
    return ["CMD", PROBE, "wget", "-q", "--spider", f"http://127.0.0.1:{health.port}{health.path}"]


def _healthcheck(health):
    return {
        "Test": health_test(health),
        "Interval": health.interval * _SECOND,
        "Timeout": health.timeout * _SECOND,
        "Retries": health.retries,
        "StartPeriod": health.grace * _SECOND,
    }


def constraints(app, node=None):
    """Placement constraints (the swarm knows only == and !=); ``node`` pins a
    resident app to the node its volume lives on."""
    rules = [pool_constraint(app.placement.pool)]
    rules += [f"node.labels.{key}=={value}" for key, value in sorted(app.placement.equals.items())]
    rules += [f"node.labels.{key}!={value}" for key, value in sorted(app.placement.not_equals.items())]
    if node is not None:
        rules.append(f"node.hostname=={node}")
    return rules


def update_config(app):
    """Marathon's upgrade strategy in the swarm's update settings.

    With room over capacity, new tasks start before old ones stop, as many
    at a time as that room allows; without it, old tasks stop first, as many
    at a time as the healthy minimum spares. A resident app is replaced in
    place, one task at a time; so is an app unique per node, since a new task
    cannot start beside the old one on its node. Either way a task that does not become healthy
    rolls the whole deployment back.
    """
    instances = max(app.instances, 1)
    if app.resident or app.placement.unique:
        order, parallelism = "stop-first", 1
    elif app.upgrade.maximum_over > 0:
        order, parallelism = "start-first", math.floor(instances * app.upgrade.maximum_over)
    else:
        order, parallelism = "stop-first", instances - math.ceil(instances * app.upgrade.minimum_healthy)
    # Long enough for a new task to pass its grace period and fail its
    # checks: a task that fails later is not the deployment's fault.
    health = app.health
    monitor = (health.grace + health.interval * (health.retries + 1)) if health else 5
    return {
        "Parallelism": max(parallelism, 1),
        "Order": order,
        "FailureAction": "rollback",
        "Monitor": monitor * _SECOND,
        "MaxFailureRatio": 0,
    }


def rollback_config(app):
    settings = update_config(app)
    return {**settings, "FailureAction": "pause"}


def service_spec(app: App, node=None):
    """The ServiceSpec that runs ``app`` (Engine API 1.41, Docker 20.10 and later)."""
    container = {
        "Image": app.image,
        "Env": [f"{key}={value}" for key, value in sorted({**app.env, **PLACE_ENV}.items())],
        "Labels": {APP_LABEL: app.id},
        "Mounts": [],
    }
    if app.command:
        container["Command"] = list(app.command)
    if app.health is not None:
        container["Healthcheck"] = _healthcheck(app.health)
        if app.health.kind != "command":
            container["Mounts"].append({"Type": "bind", "Source": PROBE_SOURCE, "Target": PROBE, "ReadOnly": True})
    if app.volume is not None:
        container["Mounts"].append({"Type": "volume", "Source": app.volume.name, "Target": app.volume.path})
    resources = {
        "Reservations": {"NanoCPUs": round(app.cpus * _SECOND), "MemoryBytes": app.mem * _MIB},
        "Limits": {},
    }
    if app.cpus_limit is not None:
        resources["Limits"]["NanoCPUs"] = round(app.cpus_limit * _SECOND)
    if app.mem_limit is not None:
        resources["Limits"]["MemoryBytes"] = app.mem_limit * _MIB
    placement = {"Constraints": constraints(app, node)}
    if app.placement.unique:
        placement["MaxReplicas"] = 1
    if app.placement.spread:
        placement["Preferences"] = [{"Spread": {"SpreadDescriptor": f"node.labels.{app.placement.spread}"}}]
    spec = {
        "Name": app.id,
        "Labels": {APP_LABEL: app.id, DEFINITION_LABEL: definition_json(app), **({NODE_LABEL: node} if node else {})},
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": resources,
            "Placement": placement,
            # A failed task is replaced, but not in a tight loop.
            "RestartPolicy": {"Condition": "any", "Delay": 5 * _SECOND, "MaxAttempts": 0},
            "Networks": [{"Target": APPS_NETWORK, "Aliases": [app.id]}],
        },
        "Mode": {"Replicated": {"Replicas": app.instances}},
        "UpdateConfig": update_config(app),
        "RollbackConfig": rollback_config(app),
        # No IPVS on every kernel: names resolve to the tasks themselves.
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    # Each task says which template it was made from, so that a new
    # version's tasks are told from the ones they replace; a scale changes
    # the version but not the template, and restarts no task.
    container["Labels"][TEMPLATE_LABEL] = _digest(spec["TaskTemplate"])
    # The version names the whole spec, so that a scheduler that turns the
    # same definition into a different spec deploys it.
    spec["Labels"][VERSION_LABEL] = _digest(spec)
    return spec
