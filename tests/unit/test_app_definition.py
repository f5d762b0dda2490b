"""An app definition is read in one place, and every problem is named with its field."""

import pytest

from scheduler.definition import (
    App,
    DefinitionError,
    Health,
    Placement,
    Upgrade,
    Volume,
    parse_app,
    parse_apps,
    to_data,
)

IMAGE = "registry.flotilla:5000/web:1"


def problems(data, **kwargs):
    with pytest.raises(DefinitionError) as caught:
        parse_app(data, **kwargs)
    return caught.value.problems


def test_the_smallest_app_takes_the_defaults():
    app = parse_app({"id": "web", "image": IMAGE})
    assert app == App(id="web", image=IMAGE)
    assert app.instances == 1 and app.placement == Placement() and app.upgrade == Upgrade() and not app.resident


def test_a_full_definition_is_read_field_by_field():
    app = parse_app(
        {
            "id": "shop",
            "image": "localhost:5000/shop@sha256:" + "a" * 64,
            "instances": 3,
            "command": ["shop", "--port", "8080"],
            "env": {"MODE": "production", "WORKERS": 4},
            "cpus": 0.5,
            "mem": 256,
            "limits": {"cpus": 1, "mem": 512},
            "health": {"http": "/healthz", "port": 8080, "grace": 10},
            "placement": {"pool": "public", "unique": True, "spread": "zone", "not_equals": {"disk": "hdd"}},
            "upgrade": {"minimum_healthy": 0.5, "maximum_over": 0},
            "expose": {"port": 8080, "host": "shop.example.test", "path": "/api"},
        }
    )
    assert app.command == ("shop", "--port", "8080")
    assert app.env == {"MODE": "production", "WORKERS": "4"}
    assert (app.cpus, app.mem, app.cpus_limit, app.mem_limit) == (0.5, 256, 1, 512)
    assert app.health == Health("http", port=8080, path="/healthz", grace=10)
    assert app.placement == Placement("public", True, "zone", {}, {"disk": "hdd"})
    assert app.upgrade == Upgrade(0.5, 0)
    assert (app.expose.port, app.expose.host, app.expose.path) == (8080, "shop.example.test", "/api")


def test_every_problem_is_reported_at_once_with_its_field():
    found = problems(
        {
            "id": "Web_1",
            "image": "web:1",
            "instances": -1,
            "cpus": "half",
            "health": {"http": "healthz"},
            "placement": {"pool": "dmz", "unique": "yes"},
            "colour": "blue",
        }
    )
    fields = [problem.split(":")[0] for problem in found]
    assert fields == [
        "colour",
        "id",
        "image",
        "instances",
        "cpus",
        "health.port",
        "health.http",
        "placement.pool",
        "placement.unique",
    ], found
    assert "names no registry" in found[2] and "registry.example:5000/web:1" in found[2]


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("busybox", "names no registry"),
        ("library/busybox:1.36", "names no registry"),
        ("registry.example/Web:1", "is not an image reference"),
        ("registry.example/web:", "is not an image reference"),
    ],
)
def test_an_image_the_cluster_cannot_pull_is_refused(image, reason):
    [problem] = problems({"id": "web", "image": image})
    assert problem.startswith("image: ") and reason in problem


@pytest.mark.parametrize("image", ["registry.example/web", "localhost:5000/team/web:v1.2", "10.0.0.5:5000/web:1"])
def test_an_image_with_a_registry_is_accepted(image):
    assert parse_app({"id": "web", "image": image}).image == image


def test_a_health_check_is_one_kind_with_what_that_kind_needs():
    assert parse_app({"id": "db", "image": IMAGE, "health": {"tcp": True, "port": 5432}}).health == Health(
        "tcp", port=5432
    )
    assert parse_app({"id": "w", "image": IMAGE, "health": {"command": ["true"]}}).health.command == ("true",)
    assert problems({"id": "w", "image": IMAGE, "health": {"tcp": True, "http": "/", "port": 1}}) == [
        "health: needs exactly one of http, tcp, command"
    ]
    assert problems({"id": "w", "image": IMAGE, "health": {"command": "true", "port": 80}}) == [
        "health.port: is for http and tcp checks only",
        "health.command: must be a non-empty list of strings (the program and its arguments)",
    ]


def test_an_upgrade_that_cannot_replace_any_instance_is_refused():
    assert problems({"id": "w", "image": IMAGE, "upgrade": {"minimum_healthy": 1, "maximum_over": 0}}) == [
        "upgrade: minimum_healthy 1 with maximum_over 0 leaves no room to replace any instance"
    ]


def test_an_app_with_a_volume_is_resident_one_instance_and_never_over_capacity():
    app = parse_app({"id": "db", "image": IMAGE, "volume": {"name": "db-data", "path": "/var/lib/db"}})
    assert app.resident and app.volume == Volume("db-data", "/var/lib/db")
    assert app.upgrade.maximum_over == 0  # replaced in place: stop, then start
    assert problems(
        {
            "id": "db",
            "image": IMAGE,
            "instances": 2,
            "upgrade": {"maximum_over": 0.5},
            "volume": {"name": "db-data", "path": "relative"},
        }
    ) == [
        "volume.path: 'relative' is not an absolute path",
        "upgrade.maximum_over: must be 0 for an app with a volume (its one node holds the data)",
        "instances: must be 0 or 1 for an app with a volume (the volume lives on one node)",
    ]


def test_limits_below_the_reservations_and_contradicting_labels_are_refused():
    assert problems(
        {
            "id": "w",
            "image": IMAGE,
            "mem": 256,
            "limits": {"mem": 128},
            "placement": {"equals": {"zone": "a"}, "not_equals": {"zone": "a"}},
        }
    ) == [
        "placement.not_equals.zone: contradicts placement.equals.zone (no node can match both)",
        "limits.mem: 128 is below the reservation 256",
    ]


def test_a_limit_below_the_default_reservation_or_the_engines_minimum_is_refused():
    # The engine would refuse every task: the deployment would only time out.
    assert problems({"id": "w", "image": IMAGE, "limits": {"mem": 32}}) == [
        "limits.mem: 32 is below the reservation 64"
    ]
    assert problems({"id": "w", "image": IMAGE, "mem": 4, "limits": {"mem": 5}}) == ["limits.mem: 5 is below 6"]


@pytest.mark.parametrize("path", ["/a b", "/a#b", "/a}", "/a\nbackend x", "api"])
def test_paths_that_would_break_the_edges_configuration_are_refused(path):
    words = "is not a URL path (a leading /, then letters, digits and . _ ~ / % - only)"
    assert problems(
        {"id": "w", "image": IMAGE, "expose": {"port": 80, "path": path}, "health": {"http": path, "port": 80}}
    ) == [f"health.http: {path!r} {words}", f"expose.path: {path!r} {words}"]


def test_a_list_reports_each_item_where_it_is_and_an_id_given_twice():
    with pytest.raises(DefinitionError) as caught:
        parse_apps(
            [{"id": "a", "image": IMAGE}, {"id": "b", "image": "b"}, {"id": "a", "image": IMAGE}],
            where="scheduler_apps",
        )
    assert caught.value.problems == [
        "scheduler_apps[1].image: 'b' names no registry (write it as registry.example:5000/b,"
        " or push it to the cluster's)",
        "scheduler_apps[2].id: 'a' is defined twice",
    ]


def test_what_is_not_a_mapping_or_a_list_says_so():
    assert problems(["web"]) == ["app: must be a mapping of the app's fields, not a list"]
    with pytest.raises(DefinitionError, match="must be a list of app definitions, not a mapping"):
        parse_apps({"id": "web"})


@pytest.mark.parametrize(
    "data",
    [
        {"id": "web", "image": IMAGE},
        {
            "id": "shop",
            "image": IMAGE,
            "instances": 3,
            "command": ["shop"],
            "env": {"A": "1"},
            "limits": {"mem": 512},
            "health": {"http": "/h", "port": 80},
            "placement": {"spread": "zone", "equals": {"zone": "a"}},
            "expose": {"port": 80, "host": "shop.example.test"},
        },
        {"id": "db", "image": IMAGE, "health": {"tcp": True, "port": 5432}, "volume": {"name": "d", "path": "/d"}},
        {"id": "job", "image": IMAGE, "health": {"command": ["true"]}, "upgrade": {"maximum_over": 0.5}},
    ],
)
def test_a_definition_read_back_from_its_data_is_the_same(data):
    app = parse_app(data)
    assert parse_app(to_data(app)) == app
