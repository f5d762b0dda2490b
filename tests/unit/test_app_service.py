"""What the swarm is asked for an app: placement, resources, health, deployments."""

import json

import pytest

from scheduler.definition import parse_app
from scheduler.service import (
    APPS_NETWORK,
    DEFINITION_LABEL,
    PROBE,
    VERSION_LABEL,
    service_spec,
    update_config,
)

IMAGE = "registry.flotilla:5000/web:1"
SECOND = 1_000_000_000


def app(**fields):
    return parse_app({"id": "web", "image": IMAGE, **fields})


def test_an_app_runs_in_its_pool_on_the_apps_network_found_by_name():
    spec = service_spec(app(instances=3, placement={"pool": "public", "equals": {"zone": "a"}}))
    task = spec["TaskTemplate"]
    assert spec["Name"] == "web" and spec["Mode"] == {"Replicated": {"Replicas": 3}}
    assert task["Placement"]["Constraints"] == ["node.labels.flotilla.pool==public", "node.labels.zone==a"]
    assert task["Networks"] == [{"Target": APPS_NETWORK, "Aliases": ["web"]}]
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}


def test_unique_spread_and_not_equals_are_the_swarms_placement_words():
    placement = service_spec(app(placement={"unique": True, "spread": "zone", "not_equals": {"disk": "hdd"}}))[
        "TaskTemplate"
    ]["Placement"]
    assert placement == {
        "Constraints": ["node.labels.flotilla.pool==private", "node.labels.disk!=hdd"],
        "MaxReplicas": 1,
        "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
    }


def test_resources_are_reservations_and_limits_in_the_apis_units():
    resources = service_spec(app(cpus=0.25, mem=128, limits={"cpus": 1, "mem": 256}))["TaskTemplate"]["Resources"]
    assert resources == {
        "Reservations": {"NanoCPUs": SECOND // 4, "MemoryBytes": 128 * 1024 * 1024},
        "Limits": {"NanoCPUs": SECOND, "MemoryBytes": 256 * 1024 * 1024},
    }


def test_an_http_check_probes_the_app_from_inside_with_the_mounted_probe():
    container = service_spec(app(health={"http": "/healthz", "port": 8080, "grace": 10}))["TaskTemplate"][
        "ContainerSpec"
    ]
    assert container["Healthcheck"]["Test"] == ["CMD", PROBE, "wget", "-q", "--spider", "http://127.0.0.1:8080/healthz"]
    assert container["Healthcheck"]["StartPeriod"] == 10 * SECOND
    assert {"Type": "bind", "Source": "/bin/busybox", "Target": PROBE, "ReadOnly": True} in container["Mounts"]


def test_a_command_check_runs_in_the_image_and_mounts_nothing():
    container = service_spec(app(health={"command": ["pg_isready"]}))["TaskTemplate"]["ContainerSpec"]
    assert container["Healthcheck"]["Test"] == ["CMD", "pg_isready"] and container["Mounts"] == []


@pytest.mark.parametrize(
    ("instances", "upgrade", "order", "parallelism"),
    [
        (4, {}, "start-first", 4),  # Marathon's default: all new ones may start first
        (4, {"maximum_over": 0.5}, "start-first", 2),
        (4, {"maximum_over": 0.1}, "start-first", 1),  # at least one at a time
        (4, {"minimum_healthy": 0.5, "maximum_over": 0}, "stop-first", 2),
        (3, {"minimum_healthy": 0.9, "maximum_over": 0}, "stop-first", 1),
    ],
)
def test_the_upgrade_strategy_sets_the_order_and_pace(instances, upgrade, order, parallelism):
    settings = update_config(app(instances=instances, upgrade=upgrade))
    assert (settings["Order"], settings["Parallelism"]) == (order, parallelism)
    assert settings["FailureAction"] == "rollback"


def test_a_resident_app_is_replaced_in_place_on_its_node_with_its_volume():
    resident = app(instances=1, volume={"name": "web-data", "path": "/data"})
    spec = service_spec(resident, node="agent-2")
    assert spec["UpdateConfig"]["Order"] == "stop-first" and spec["UpdateConfig"]["Parallelism"] == 1
    assert "node.hostname==agent-2" in spec["TaskTemplate"]["Placement"]["Constraints"]
    assert {"Type": "volume", "Source": "web-data", "Target": "/data"} in spec["TaskTemplate"]["ContainerSpec"][
        "Mounts"
    ]


def test_the_monitor_outlasts_the_grace_period_and_the_failing_checks():
    settings = update_config(app(health={"tcp": True, "port": 80, "grace": 20, "interval": 2, "retries": 3}))
    assert settings["Monitor"] == (20 + 2 * 4) * SECOND


def test_the_definition_and_its_version_travel_in_the_labels():
    first, second = app(instances=2), app(instances=3)
    labels = service_spec(first)["Labels"]
    assert json.loads(labels[DEFINITION_LABEL])["instances"] == 2
    version = service_spec(first)["Labels"][VERSION_LABEL]
    assert labels[VERSION_LABEL] == version == service_spec(app(instances=2))["Labels"][VERSION_LABEL]
    assert service_spec(second)["Labels"][VERSION_LABEL] != version


def test_an_app_unique_per_node_is_replaced_in_place_one_at_a_time():
    # start-first would wait forever for a second slot on each node
    settings = update_config(app(instances=2, placement={"unique": True}))
    assert (settings["Order"], settings["Parallelism"]) == ("stop-first", 1)


def test_every_app_is_told_its_node_and_task_by_the_swarms_templates():
    env = service_spec(app(env={"LOG": "debug", "FLOTILLA_NODE": "a lie"}))["TaskTemplate"]["ContainerSpec"]["Env"]
    assert env == ["FLOTILLA_NODE={{.Node.Hostname}}", "FLOTILLA_TASK={{.Task.Name}}", "LOG=debug"]
