"""The scheduler's HTTP API: JSON in, JSON out, on loopback behind the admin router.

    GET    /v1/apps                 every app's state
    GET    /v1/apps/ID              one app: state and definition
    PUT    /v1/apps/ID              deploy a definition (400 lists every problem)
    POST   /v1/apps/ID/scale        {"instances": N}
    POST   /v1/apps/ID/rollback     back to the version before
    DELETE /v1/apps/ID
    GET    /v1/edge/haproxy.cfg     the public edge's HAProxy configuration

Every request carries `Authorization: Bearer TOKEN`; the server keeps only
the token's SHA-256, so a copy of its files does not give the token away.
The edge's own credential (kept the same way) reads its configuration and
nothing else, so a public agent holds no key to the apps.
Deployments are started here and watched by the caller (GET until healthy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docker

from .definition import DefinitionError, parse_app, to_data
from .deploy import Apps, RouteTaken
from .edge import haproxy_config
from .placement import PlacementError

EDGE_PATH = "/v1/edge/haproxy.cfg"
_ROUTE = re.compile(r"^/v1/apps(?:/(?P<id>[^/]+)(?:/(?P<action>scale|rollback))?)?/?$")


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class _Problem(Exception):
    def __init__(self, status, message, problems=()):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, list(problems)


class Handler(BaseHTTPRequestHandler):
    apps: Apps
    digest: str
    edge_digest: str | None = None
    server_version = "flotilla-scheduler"

    def _authorized(self, digests):
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        digest = token_digest(token)
        return scheme == "Bearer" and any(hmac.compare_digest(digest, known) for known in digests if known)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError as err:
            raise _Problem(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {err}") from err

    def _send(self, status, payload):
        body = json.dumps(payload, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self):
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Bearer realm="flotilla"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _edge(self, method):
        if not self._authorized((self.digest, self.edge_digest)):
            return self._refuse()
        if method != "GET":
            return self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} {self.path} is not allowed"})
        body = haproxy_config(self.apps.definitions()).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method):
        try:
            self._answer(method)
        except Exception:  # noqa: BLE001 - whatever broke, the client gets an answer
            # The journal gets the traceback (the request line, never its headers).
            traceback.print_exc()
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "the scheduler failed on this request; its journal on this master says why"},
            )

    def _answer(self, method):
        if self.path == EDGE_PATH:
            return self._edge(method)
        if not self._authorized((self.digest,)):
            return self._refuse()
        route = _ROUTE.match(self.path)
        try:
            if route is None:
                raise _Problem(HTTPStatus.NOT_FOUND, f"no such resource: {self.path}")
            status, payload = self._dispatch(method, route["id"], route["action"])
        except _Problem as problem:
            status, payload = problem.status, {"error": problem.message, "problems": problem.problems}
        except docker.errors.APIError as err:
            status, payload = HTTPStatus.BAD_GATEWAY, {"error": f"the swarm refused: {err.explanation}"}
        self._send(status, payload)

    def _dispatch(self, method, app_id, action):
        if app_id is None:
            if method != "GET":
                raise _Problem(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} /v1/apps is not allowed")
            return HTTPStatus.OK, {"apps": [dataclasses.asdict(state) for state in self.apps.list()]}
        if method == "PUT" and action is None:
            return self._deploy(app_id, self._body())
        current = self.apps.definition(app_id)
        if current is None:
            raise _Problem(HTTPStatus.NOT_FOUND, f"no app {app_id}")
        if method == "GET" and action is None:
            state = self.apps.state(app_id)
            if state is None:  # removed since its definition was read
                raise _Problem(HTTPStatus.NOT_FOUND, f"no app {app_id}")
            return HTTPStatus.OK, {"state": dataclasses.asdict(state), "definition": to_data(current)}
        if method == "DELETE" and action is None:
            self.apps.remove(app_id)
            return HTTPStatus.OK, {"removed": app_id}
        if method == "POST" and action == "scale":
            body = self._body()
            instances = body.get("instances") if isinstance(body, dict) else None
            definition = {**to_data(current), "instances": instances}
            return self._deploy(app_id, definition)
        if method == "POST" and action == "rollback":
            try:
                return HTTPStatus.OK, dataclasses.asdict(self.apps.rollback(app_id))
            except LookupError as err:
                raise _Problem(HTTPStatus.CONFLICT, str(err)) from err
        raise _Problem(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} {self.path} is not allowed")

    def _deploy(self, app_id, data):
        try:
            app = parse_app(data)
        except DefinitionError as err:
            raise _Problem(HTTPStatus.BAD_REQUEST, "the definition cannot be deployed", err.problems) from err
        if app.id != app_id:
            raise _Problem(HTTPStatus.BAD_REQUEST, f"the definition's id {app.id} is not {app_id}")
        try:
            deployment = self.apps.deploy(app)
        except (PlacementError, RouteTaken) as err:
            raise _Problem(HTTPStatus.CONFLICT, str(err)) from err
        status = HTTPStatus.CREATED if deployment.change == "created" else HTTPStatus.OK
        return status, dataclasses.asdict(deployment)

    def do_GET(self):  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")


def make_server(address, port, digest, edge_digest=None, apps=None):
    apps = apps or Apps(docker.from_env().api)
    handler = type("BoundHandler", (Handler,), {"apps": apps, "digest": digest, "edge_digest": edge_digest})
    return ThreadingHTTPServer((address, port), handler)


def serve(address, port, digest, edge_digest=None):
    make_server(address, port, digest, edge_digest).serve_forever()
