"""Where an app may run, and why an instance waits, in the user's words.

Pure functions over descriptions of the swarm's nodes (``Node``), so that
the choice of a resident app's node and the reasons a task waits can be
checked without a swarm:

    node = choose_node(app, nodes)          # the node a resident app lives on
    why = waiting_reason(app, task_error, nodes, home=node)

The swarm itself places every task (by the service's constraints and
reservations); this module only picks the one node a resident app is pinned
to, and turns the swarm's terse "no suitable node (...)" into sentences
about the app's own placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import POOL_LABEL

_MIB = 1024 * 1024
_NANO = 1_000_000_000


class PlacementError(ValueError):
    """No node can take the app, said in one sentence with each node's reason."""


@dataclass(frozen=True)
class Node:
    """A swarm node as placement sees it."""

    hostname: str
    state: str = "ready"  # the swarm's node state: ready, down, unknown, disconnected
    availability: str = "active"  # active, pause, drain
    labels: dict[str, str] = field(default_factory=dict)
    tasks: int = 0  # tasks it is asked to run now
    mem: int = 0  # MiB it has
    cpus: float = 0.0

    @classmethod
    def from_swarm(cls, node, tasks=0):
        """From the Engine API's node object (GET /nodes)."""
        resources = node.get("Description", {}).get("Resources", {})
        return cls(
            hostname=node["Description"]["Hostname"],
            state=node["Status"]["State"],
            availability=node["Spec"].get("Availability", "active"),
            labels=node["Spec"].get("Labels") or {},
            tasks=tasks,
            mem=resources.get("MemoryBytes", 0) // _MIB,
            cpus=resources.get("NanoCPUs", 0) / _NANO,
        )


def label_misfits(app, node):
    """Why the app's placement (pool and labels) excludes ``node``: none if it fits."""
    placement = app.placement
    reasons = []
    pool = node.labels.get(POOL_LABEL)
    if pool != placement.pool:
        reasons.append(f"is not in pool {placement.pool} ({f'pool {pool}' if pool else 'no pool'})")
    for key, value in sorted(placement.equals.items()):
        if node.labels.get(key) != value:
            reasons.append(f"has not {key}={value}")
    for key, value in sorted(placement.not_equals.items()):
        if node.labels.get(key) == value:
            reasons.append(f"has {key}={value}")
    return reasons


def availability_misfits(node):
    """Why ``node`` takes no new task now: none if it is ready and active."""
    reasons = []
    if node.state != "ready":
        reasons.append(f"is {node.state}")
    if node.availability != "active":
        reasons.append(f"is {'drained' if node.availability == 'drain' else node.availability + 'd'}")
    return reasons


def choose_node(app, nodes):
    """The node a resident app's volume is to live on: ready, active, in its
    pool, with its labels; of those, the one running fewest tasks (then by
    name, so that every master chooses the same). PlacementError says each
    node's reason when none fits."""
    fitting = [node for node in nodes if not label_misfits(app, node) and not availability_misfits(node)]
    if fitting:
        return min(fitting, key=lambda node: (node.tasks, node.hostname)).hostname
    reasons = "; ".join(
        f"{node.hostname} {' and '.join(label_misfits(app, node) + availability_misfits(node))}"
        for node in sorted(nodes, key=lambda node: node.hostname)
    )
    raise PlacementError(f"{app.id}: no node can hold its volume ({reasons or 'the swarm lists no node'}).")


def home_problem(app, home, nodes):
    """Why a resident app cannot stay on ``home``, the node its volume lives
    on, with this definition; None if it can. A drained or down home is no
    reason to refuse: the app waits for it."""
    node = next((node for node in nodes if node.hostname == home), None)
    if node is None:
        return f"{app.id}: its volume is on {home}, which has left the swarm; remove the app to place it anew."
    misfits = label_misfits(app, node)
    if misfits:
        return (
            f"{app.id}: its volume is on {home}, which {' and '.join(misfits)}; "
            "a resident app never moves: keep its placement, or remove the app first."
        )
    return None


# The swarm's (swarmkit's) explanations of a task it cannot place, each
# part of "no suitable node (PART; PART)", as Docker 20.10 writes them.
_CONSTRAINTS = "scheduling constraints not satisfied"
_RESOURCES = "insufficient resources"
_MAX_REPLICAS = "max replicas per node"
_UNAVAILABLE = "not available for new tasks"


def waiting_reason(app, error, nodes, home=None):
    """Why a task of ``app`` waits, from the swarm's task error and the nodes."""
    if home is not None:
        node = next((node for node in nodes if node.hostname == home), None)
        misfits = ["has left the swarm"] if node is None else availability_misfits(node)
        if misfits:
            return (
                f"its node {home}, where its volume lives, {' and '.join(misfits)}: "
                "a resident app waits for its node and is never moved"
            )
    if not error.startswith("no suitable node"):
        return error
    reasons = []
    for part in error[error.find("(") + 1 : error.rfind(")")].split(";"):
        part = part.strip()
        if _CONSTRAINTS in part:
            reasons.append(_constraints_reason(app, nodes, home))
        elif _RESOURCES in part:
            reasons.append(_resources_reason(app, nodes))
        elif _MAX_REPLICAS in part:
            reasons.append(
                "at most one instance per node (placement.unique), and every node that fits already runs one"
            )
        elif _UNAVAILABLE in part:
            # Only those the app could use: masters are always drained.
            unavailable = sorted(
                node.hostname for node in nodes if availability_misfits(node) and not label_misfits(app, node)
            )
            if unavailable:
                reasons.append(f"drained or down: {', '.join(unavailable)}")
        elif part:
            reasons.append(part)
    return f"no node can run it: {'; '.join(reasons)} (the swarm: {error})"


def _constraints_reason(app, nodes, home):
    """Which rule of the placement leaves out which nodes (drained or down
    ones are said apart, by the swarm's own count)."""
    placement = app.placement
    rules = [(f"pool {placement.pool}", lambda node: node.labels.get(POOL_LABEL) == placement.pool)]
    rules += [
        (f"{key}={value}", lambda node, key=key, value=value: node.labels.get(key) == value)
        for key, value in sorted(placement.equals.items())
    ]
    rules += [
        (f"{key}!={value}", lambda node, key=key, value=value: node.labels.get(key) != value)
        for key, value in sorted(placement.not_equals.items())
    ]
    if home is not None:
        rules.append((f"its volume's node {home}", lambda node: node.hostname == home))
    active = [node for node in nodes if not availability_misfits(node)]
    said = []
    for rule, fits in rules:
        left_out = sorted(node.hostname for node in active if not fits(node))
        if not any(fits(node) for node in nodes):
            said.append(f"no node has {rule}")
        elif left_out:
            said.append(f"{rule} leaves out {', '.join(left_out)}")
    matching = sorted(node.hostname for node in active if all(fits(node) for _, fits in rules))
    found = f"the placement fits only {', '.join(matching)}" if matching else "no node matches the placement"
    return found + (f" ({'; '.join(said)})" if said else "")


def _resources_reason(app, nodes):
    fitting = [node for node in nodes if not label_misfits(app, node)] or nodes
    largest = max(fitting, key=lambda node: node.mem, default=None)
    size = f"; the largest node it may use has {largest.mem} MiB and {largest.cpus:g} CPUs" if largest else ""
    return f"not enough memory or CPU free: it reserves {app.mem} MiB and {app.cpus:g} CPUs{size}"
