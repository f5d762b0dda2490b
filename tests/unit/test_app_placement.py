"""Where a resident app lives, and why a task waits, from descriptions of the
nodes; and which route of the edge an app may take."""

import pytest

from scheduler.definition import parse_app
from scheduler.deploy import Apps, RouteTaken
from scheduler.placement import Node, PlacementError, choose_node, home_problem, waiting_reason
from scheduler.service import NODE_LABEL

IMAGE = "registry.flotilla:5000/db:1"
VOLUME = {"name": "db-data", "path": "/data"}


def app(**fields):
    return parse_app({"id": "db", "image": IMAGE, "volume": VOLUME, **fields})


def agent(hostname, pool="private", tasks=0, **fields):
    labels = {"flotilla.pool": pool, **fields.pop("labels", {})}
    return Node(hostname, labels=labels, tasks=tasks, mem=1024, cpus=2, **fields)


MASTER = Node("master-1", availability="drain", labels={"flotilla.pool": "private"}, mem=1024, cpus=2)


def test_the_node_running_fewest_tasks_is_chosen_then_by_name():
    nodes = [MASTER, agent("agent-2", tasks=3), agent("agent-1", tasks=1), agent("agent-3", tasks=1)]
    assert choose_node(app(), nodes) == "agent-1"


def test_only_ready_active_nodes_of_its_pool_with_its_labels_are_chosen():
    nodes = [
        MASTER,
        agent("agent-1", state="down"),
        agent("agent-2", labels={"zone": "b"}),
        agent("agent-3", availability="pause"),
        agent("public-1", pool="public"),
        agent("agent-4", tasks=9, labels={"zone": "a"}),
    ]
    assert choose_node(app(placement={"equals": {"zone": "a"}}), nodes) == "agent-4"
    assert choose_node(app(placement={"pool": "public"}), nodes) == "public-1"


def test_when_no_node_fits_each_node_says_why():
    nodes = [MASTER, agent("agent-1", availability="drain"), agent("public-1", pool="public")]
    with pytest.raises(PlacementError) as refused:
        choose_node(app(placement={"not_equals": {"disk": "hdd"}}), [*nodes, agent("agent-2", labels={"disk": "hdd"})])
    assert str(refused.value) == (
        "db: no node can hold its volume (agent-1 is drained; agent-2 has disk=hdd; "
        "master-1 is drained; public-1 is not in pool private (pool public))."
    )


def test_a_home_that_no_longer_fits_the_definition_is_refused_but_a_drained_one_is_not():
    nodes = [agent("agent-1", availability="drain"), agent("public-1", pool="public")]
    assert home_problem(app(), "agent-1", nodes) is None
    assert "agent-1, which is not in pool public" in home_problem(app(placement={"pool": "public"}), "agent-1", nodes)
    assert "agent-9, which has left the swarm" in home_problem(app(), "agent-9", nodes)


def test_a_resident_app_waits_for_its_drained_or_down_node():
    nodes = [agent("agent-1", availability="drain"), agent("agent-2", state="down")]
    error = "no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 2 nodes)"
    assert waiting_reason(app(), error, nodes, home="agent-1") == (
        "its node agent-1, where its volume lives, is drained: a resident app waits for its node and is never moved"
    )
    assert waiting_reason(app(), error, nodes, home="agent-2").startswith(
        "its node agent-2, where its volume lives, is down"
    )


class FakeSwarm:
    """The Engine API calls Apps makes to deploy, over a swarm of nodes and
    the services created in it."""

    def __init__(self, nodes):
        self.nodes_ = nodes
        self.services_ = {}

    def nodes(self):
        return [
            {
                "ID": f"id-{node.hostname}",
                "Description": {"Hostname": node.hostname, "Resources": {}},
                "Status": {"State": node.state},
                "Spec": {"Availability": node.availability, "Labels": node.labels},
            }
            for node in self.nodes_
        ]

    def tasks(self, filters):
        return [{"NodeID": f"id-{node.hostname}"} for node in self.nodes_ for _ in range(node.tasks)]

    def networks(self, names):
        return [{"Name": name} for name in names]

    def services(self, filters):
        return [
            service
            for service in self.services_.values()
            if service["Spec"]["Name"] == filters.get("name", service["Spec"]["Name"])
        ]

    def create_service(self, name, labels, task_template, **spec):
        self.services_[name] = {"ID": name, "Version": {"Index": 1}, "Spec": {"Name": name, "Labels": labels}}
        self.services_[name]["Spec"]["TaskTemplate"] = task_template

    def update_service(self, service_id, version, name, labels, task_template, **spec):
        self.create_service(name, labels, task_template)


def constraints_of(swarm, name):
    return swarm.services_[name]["Spec"]["TaskTemplate"]["Placement"]["Constraints"]


def test_a_resident_app_stays_on_the_node_chosen_first_through_every_later_deployment():
    swarm = FakeSwarm([agent("agent-1", tasks=2), agent("agent-2", tasks=1)])
    apps = Apps(swarm)
    assert apps.deploy(app()).change == "created"
    assert "node.hostname==agent-2" in constraints_of(swarm, "db")
    # agent-1 is now the emptier node: a changed definition still stays.
    swarm.nodes_ = [agent("agent-1"), agent("agent-2", tasks=5)]
    assert Apps(swarm).deploy(app(env={"V": "2"})).change == "updated"
    assert "node.hostname==agent-2" in constraints_of(swarm, "db")
    assert swarm.services_["db"]["Spec"]["Labels"][NODE_LABEL] == "agent-2"


def test_a_definition_that_would_exclude_its_node_is_refused_before_anything_changes():
    swarm = FakeSwarm([agent("agent-1"), agent("public-1", pool="public")])
    Apps(swarm).deploy(app())
    before = swarm.services_["db"]
    with pytest.raises(PlacementError, match="its volume is on agent-1, which is not in pool public"):
        Apps(swarm).deploy(app(placement={"pool": "public"}))
    assert swarm.services_["db"] is before


def test_no_node_for_a_new_resident_app_creates_nothing():
    swarm = FakeSwarm([agent("agent-1", availability="drain")])
    with pytest.raises(PlacementError, match=r"agent-1 is drained"):
        Apps(swarm).deploy(app())
    assert swarm.services_ == {}


# The swarm's task errors, as Docker 20.10 wrote them on the platform cluster
# (3 drained masters, 2 private agents, 1 public agent).
NODES = [
    *(Node(f"master-{n}", availability="drain", mem=24105, cpus=2) for n in (1, 2, 3)),
    agent("agent-1", tasks=1),
    agent("agent-2", tasks=1),
    agent("public-1", pool="public"),
]
UNIQUE = (
    "no suitable node (3 nodes not available for new tasks; max replicas per node limit exceed; "
    "scheduling constraints not satisfied on 1 node)"
)
MEMORY = "no suitable node (3 nodes not available for new tasks; insufficient resources on 3 nodes)"
LABELS = "no suitable node (3 nodes not available for new tasks; scheduling constraints not satisfied on 3 nodes)"


def stateless(**fields):
    return parse_app({"id": "web", "image": IMAGE, **fields})


def test_unique_per_node_says_every_node_that_fits_runs_one_and_which_nodes_fit():
    assert waiting_reason(stateless(instances=3, placement={"unique": True}), UNIQUE, NODES) == (
        "no node can run it: at most one instance per node (placement.unique), "
        "and every node that fits already runs one; the placement fits only agent-1, agent-2 "
        f"(pool private leaves out public-1) (the swarm: {UNIQUE})"
    )


def test_a_reservation_too_large_says_how_much_and_how_large_the_nodes_are():
    assert waiting_reason(stateless(mem=1048576), MEMORY, NODES) == (
        "no node can run it: not enough memory or CPU free: it reserves 1048576 MiB and 0.1 CPUs; "
        f"the largest node it may use has 1024 MiB and 2 CPUs (the swarm: {MEMORY})"
    )


def test_a_label_no_node_has_is_named():
    reason = waiting_reason(stateless(placement={"equals": {"zone": "a"}}), LABELS, NODES)
    assert reason.startswith("no node can run it: no node matches the placement (pool private leaves out public-1; ")
    assert "no node has zone=a)" in reason


def test_drained_nodes_the_app_could_use_are_named_and_masters_are_not():
    drained = [*NODES[:3], agent("agent-1", availability="drain"), NODES[5]]
    error = "no suitable node (4 nodes not available for new tasks; scheduling constraints not satisfied on 1 node)"
    assert waiting_reason(stateless(), error, drained).startswith(
        "no node can run it: drained or down: agent-1; no node matches the placement (pool private leaves out public-1)"
    )


def exposed(app_id, **expose):
    return parse_app({"id": app_id, "image": IMAGE, "expose": {"port": 80, **expose}})


def test_a_route_another_app_is_exposed_on_is_refused_before_anything_changes():
    swarm = FakeSwarm([agent("agent-1")])
    apps = Apps(swarm)
    apps.deploy(exposed("web", path="/api"))
    with pytest.raises(RouteTaken, match="web is exposed on any host at /api already"):
        apps.deploy(exposed("shop", path="/api/"))
    assert set(swarm.services_) == {"web"}
    # Its own route again, or another host or path, is fine.
    assert apps.deploy(exposed("web", path="/api/", host="web.example")).change == "updated"
    assert apps.deploy(exposed("shop", path="/api")).change == "created"
