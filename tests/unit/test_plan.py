import pytest
import yaml

from provisioners.cluster import _refuse_moving, plan_nodes
from provisioners.errors import FlotillaError
from provisioners.inventory import render
from provisioners.providers.base import Node
from provisioners.spec import build_spec


def node(name, role="agent", pool="private"):
    return Node(name=name, role=role, pool=pool, address="10.0.0.1", private_address="10.0.0.1")


def test_an_empty_cluster_gets_every_machine():
    requests = plan_nodes(build_spec({"name": "demo"}), [])
    assert [r.name for r in requests] == [
        "demo-master-1",
        "demo-master-2",
        "demo-master-3",
        "demo-agent-1",
        "demo-agent-2",
        "demo-public-1",
    ]


def test_a_rerun_creates_only_what_is_missing_and_fills_gaps():
    existing = [node("demo-master-1", "master"), node("demo-master-3", "master"), node("demo-agent-1")]
    requests = plan_nodes(build_spec({"name": "demo"}), existing)
    assert [(r.name, r.role, r.pool) for r in requests] == [
        ("demo-master-2", "master", "private"),
        ("demo-agent-2", "agent", "private"),
        ("demo-public-1", "agent", "public"),
    ]


def test_more_machines_than_asked_are_left_alone():
    existing = [node(f"demo-agent-{i}") for i in range(1, 5)]
    spec = build_spec({"name": "demo", "masters": 1, "agents": 2, "public_agents": 0})
    assert [r.name for r in plan_nodes(spec, existing)] == ["demo-master-1"]


def test_inventory_groups_and_connection():
    spec = build_spec({"name": "demo", "masters": 1, "agents": 1, "public_agents": 1})
    nodes = [
        node("demo-master-1", "master"),
        node("demo-agent-1"),
        Node("demo-public-1", "agent", "public", address="203.0.113.9", private_address="10.0.0.9"),
    ]
    data = yaml.safe_load(render(spec, nodes, "/k/id", "/k/known_hosts", "admin"))
    children = data["cluster"]["children"]
    assert list(children["masters"]["hosts"]) == ["demo-master-1"]
    agents = children["agents"]["children"]
    assert list(agents["agents_private"]["hosts"]) == ["demo-agent-1"]
    public = agents["agents_public"]["hosts"]["demo-public-1"]
    assert public == {"ansible_host": "203.0.113.9", "flotilla_advertise_address": "10.0.0.9"}
    assert data["cluster"]["vars"]["ansible_user"] == "admin"
    assert "StrictHostKeyChecking=accept-new" in data["cluster"]["vars"]["ansible_ssh_common_args"]
    # Machines flotilla made are named after their inventory names; the
    # cluster's name is in the tags, not in a variable nothing reads.
    assert data["cluster"]["vars"]["common_set_hostname"] is True
    assert "flotilla_cluster_name" not in data["cluster"]["vars"]


def test_a_cluster_cannot_move_to_another_provider_or_region():
    spec = build_spec({"name": "demo", "provider": "aws", "aws": {"region": "eu-west-1"}})
    recorded = spec.to_dict()
    _refuse_moving(spec, recorded, ("region",))
    with pytest.raises(FlotillaError, match="region 'us-east-1', not 'eu-west-1'"):
        _refuse_moving(spec, {**recorded, "aws": {**recorded["aws"], "region": "us-east-1"}}, ("region",))
    with pytest.raises(FlotillaError, match="already exists on provider 'local'"):
        _refuse_moving(spec, {**recorded, "provider": "local"}, ("region",))
