"""The public edge's HAProxy configuration, from the apps' exposure settings.

Marathon-LB's job: every app with `expose` gets a backend, chosen by the
request's Host header and/or path prefix. A backend is one `server-template`
over `tasks.<id>`, resolved through the engine's DNS (which lists only
healthy tasks), so scaling and rolling updates change the servers without a
reload; only a new, changed or removed route changes this text, and the edge
then reloads without dropping a connection (see images/edge/).

    haproxy_config([app for app in definitions if app.expose])

A pure function of the definitions: every master renders the same text.
"""

from __future__ import annotations

import math

# Where the edge container finds its TLS certificate and key (one PEM file,
# a swarm secret) and keeps its servers' state across reloads.
TLS_PEM = "/run/secrets/edge-tls.pem"
STATE_FILE = "/var/lib/haproxy/servers.state"
STATS_SOCKET = "/run/haproxy/admin.sock"
HTTP_PORT = 80
HTTPS_PORT = 443
STATS_PORT = 8404
# The engine's embedded DNS, inside every container on a user network.
ENGINE_DNS = "127.0.0.11:53"
# Server slots per backend: a power of two at least twice the instances (a
# start-first update runs up to twice as many), so that scaling changes the
# configuration only past these steps.
MINIMUM_SLOTS = 16

_GLOBAL = f"""\
global
    # The watcher saves the servers' addresses and states here before a
    # reload, so the new worker starts knowing them.
    stats socket {STATS_SOCKET} mode 600 level admin
    server-state-file {STATE_FILE}
    # An old worker lets its last connections finish, within a bound.
    hard-stop-after 60s
    ssl-default-bind-options ssl-min-ver TLSv1.2

resolvers engine
    nameserver engine {ENGINE_DNS}
    accepted_payload_size 8192
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s
    hold valid 2s
    hold obsolete 2s
    hold nx 2s
    hold other 2s
    hold refused 2s
    hold timeout 2s

defaults
    mode http
    load-server-state-from-file global
    timeout connect 3s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout queue 10s
    # A replica that went away between two DNS answers costs a retry on
    # another one, not a failed request.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503
    default-server init-addr last,none resolvers engine resolve-prefer ipv4 check inter 2s fall 2 rise 1

frontend stats
    bind :{STATS_PORT}
    stats enable
    stats uri /
    stats refresh 5s
    stats show-legends

frontend public
    bind :{HTTP_PORT}
    bind :{HTTPS_PORT} ssl crt {TLS_PEM}
    option forwardfor
    # A POST may have been done by the app that answered 503 or too late:
    # sent to another one it could be done twice.
    http-request disable-l7-retry unless METH_GET || METH_HEAD
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
"""


def slots(instances):
    wanted = max(MINIMUM_SLOTS, 2 * instances)
    return 2 ** math.ceil(math.log2(wanted))


def _order(app):
    """Most specific route first: with a host before without, longer paths first."""
    host, path = app.expose.route
    return (host is None, -len(path), app.id)


def _condition(app):
    host, path = app.expose.route
    host = f"{{ req.hdr(host),field(1,:) -i {host} }} " if host else ""
    if path == "/":
        return host.strip() or "TRUE"
    # /api takes /api and /api/..., not /apiary.
    return f"{host}{{ path {path} }} || {host}{{ path_beg {path}/ }}"


def _backend(app):
    lines = [f"backend app-{app.id}", "    balance roundrobin"]
    health, port = app.health, app.expose.port
    check = ""
    if health is not None and health.kind == "http":
        lines.append(f"    option httpchk GET {health.path}")
        lines.append("    http-check expect status 200-399")
        check = f" port {health.port}" if health.port != port else ""
    elif health is not None and health.kind == "tcp" and health.port != port:
        check = f" port {health.port}"
    lines.append(f"    server-template task {slots(app.instances)} tasks.{app.id}:{port}{check}")
    return "\n".join(lines) + "\n"


def haproxy_config(apps):
    """HAProxy's configuration for the exposed ones among ``apps``."""
    exposed = sorted((app for app in apps if app.expose is not None), key=_order)
    rules = "".join(f"    use_backend app-{app.id} if {_condition(app)}\n" for app in exposed)
    backends = "".join("\n" + _backend(app) for app in exposed)
    # A request no route takes is answered 503 by the frontend itself.
    return _GLOBAL + rules + backends
