"""The public edge's HAProxy configuration, rendered from app definitions, and
the API door that hands it to the edge with its own read-only credential."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from scheduler.api import EDGE_PATH, make_server, token_digest
from scheduler.definition import parse_app
from scheduler.edge import haproxy_config, slots

IMAGE = "registry.example:5000/web:1"


def app(app_id, expose=None, **more):
    data = {"id": app_id, "image": IMAGE, **more}
    if expose is not None:
        data["expose"] = expose
    return parse_app(data)


def lines(text):
    return [line.strip() for line in text.splitlines()]


def test_an_app_with_a_virtual_host_is_chosen_by_the_host_header_without_its_port():
    config = lines(haproxy_config([app("web", {"port": 8080, "host": "web.example"})]))
    assert "use_backend app-web if { req.hdr(host),field(1,:) -i web.example }" in config
    assert "server-template task 16 tasks.web:8080" in config


def test_a_path_prefix_takes_the_path_and_what_is_under_it_only():
    config = lines(haproxy_config([app("api", {"port": 9000, "path": "/api/"})]))
    assert "use_backend app-api if { path /api } || { path_beg /api/ }" in config


def test_host_and_path_must_both_match():
    config = lines(haproxy_config([app("both", {"port": 80, "host": "x.example", "path": "/v2"})]))
    host = "{ req.hdr(host),field(1,:) -i x.example }"
    assert f"use_backend app-both if {host} {{ path /v2 }} || {host} {{ path_beg /v2/ }}" in config


def test_the_most_specific_route_is_tried_first_and_unexposed_apps_get_none():
    apps = [
        app("all", {"port": 80}),
        app("short", {"port": 80, "host": "a.example"}),
        app("long", {"port": 80, "host": "a.example", "path": "/deep/er"}),
        app("plain", {"port": 80, "path": "/p"}),
        app("hidden"),
    ]
    rules = [line.split()[1] for line in lines(haproxy_config(apps)) if line.startswith("use_backend")]
    assert rules == ["app-long", "app-short", "app-plain", "app-all"]
    assert "app-hidden" not in haproxy_config(apps)


def test_servers_are_checked_by_the_apps_http_health_check_on_its_port():
    web = app("web", {"port": 8080}, health={"http": "/healthz", "port": 8081})
    config = lines(haproxy_config([web]))
    assert "option httpchk GET /healthz" in config
    assert "server-template task 16 tasks.web:8080 port 8081" in config


def test_without_an_http_check_servers_are_checked_by_tcp():
    config = haproxy_config(
        [app("tcp", {"port": 8080}, health={"tcp": True, "port": 8080}), app("none", {"port": 7000})]
    )
    assert "httpchk" not in config
    assert "server-template task 16 tasks.tcp:8080\n" in config
    assert "server-template task 16 tasks.none:7000\n" in config
    # Every server is checked, resolved by the engine's DNS, and starts from the saved state.
    assert "default-server init-addr last,none resolvers engine resolve-prefer ipv4 check" in config
    assert "nameserver engine 127.0.0.11:53" in config


def test_slots_cover_a_start_first_update_and_change_only_in_powers_of_two():
    assert [slots(n) for n in (1, 4, 8, 9, 16, 17)] == [16, 16, 16, 32, 32, 64]
    # Scaling within the slots leaves the text as it was: no reload.
    assert haproxy_config([app("web", {"port": 80}, instances=2)]) == haproxy_config(
        [app("web", {"port": 80}, instances=4)]
    )


def test_stats_and_both_public_ports_are_always_there():
    config = lines(haproxy_config([]))
    assert "bind :8404" in config and "stats enable" in config
    assert "bind :80" in config
    assert "bind :443 ssl crt /run/secrets/edge-tls.pem" in config


def test_only_requests_safe_to_repeat_are_retried_on_another_instance():
    config = lines(haproxy_config([]))
    assert "retry-on conn-failure empty-response response-timeout 502 503" in config
    assert "http-request disable-l7-retry unless METH_GET || METH_HEAD" in config


class FakeApps:
    def definitions(self):
        return [app("web", {"port": 8080, "host": "web.example"})]


@pytest.fixture(scope="module")
def api():
    server = make_server("127.0.0.1", 0, token_digest("admin"), token_digest("edge"), apps=FakeApps())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def get(url, token, method="GET"):
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


@pytest.mark.parametrize("token", ["edge", "admin"])
def test_the_edge_credential_and_the_admin_token_read_the_configuration(api, token):
    status, text = get(api + EDGE_PATH, token)
    assert status == 200
    assert "tasks.web:8080" in text


def test_the_edge_credential_reads_nothing_else_and_a_wrong_one_nothing_at_all(api):
    assert get(api + "/v1/apps", "edge")[0] == 401
    assert get(api + "/v1/apps/web", "edge", method="DELETE")[0] == 401
    assert get(api + EDGE_PATH, "wrong")[0] == 401
    assert get(api + EDGE_PATH, "edge", method="DELETE")[0] == 405


class BrokenApps:
    def list(self):
        raise RuntimeError("a stored definition no longer reads")


def test_a_request_the_scheduler_fails_on_gets_an_answer_that_says_so(capfd):
    server = make_server("127.0.0.1", 0, token_digest("admin"), apps=BrokenApps())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/v1/apps", headers={"Authorization": "Bearer admin"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=5)
    finally:
        server.shutdown()
    assert answer.value.code == 500
    assert answer.value.headers["Content-Type"] == "application/json"
    assert "journal on this master says why" in json.loads(answer.value.read())["error"]
    assert "a stored definition no longer reads" in capfd.readouterr().err
