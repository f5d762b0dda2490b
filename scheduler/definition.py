"""An application definition: what an app runs, what it needs, where it may run.

The one place where a definition is read and checked, for every door into
the scheduler (the `flotilla app` commands, the HTTP API, the role's
`scheduler_apps`). Every problem is reported at once, each with its field:

    parse_app({"id": "Web", "image": "web:1", "instances": -1})
    # DefinitionError:
    #   id: 'Web' is not a DNS label (a-z, 0-9 and '-', at most 63)
    #   image: 'web:1' names no registry (write it as registry.example:5000/web:1, or push it to the cluster's)
    #   instances: -1 is below 0

Plain Python and PyYAML, as Debian packages them: it runs on the masters too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import POOLS, PRIVATE

_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
# Docker's image reference: [registry/]name[:tag][@digest]; a first part is a
# registry only if it has a dot or a port, or is localhost.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?:(?P<registry>[A-Za-z0-9.-]+(?::[0-9]+)?)/(?={_COMPONENT}))?"
    rf"(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
# A URL path that is safe inside HAProxy's configuration text (no space,
# '#', brace or line break), percent-encoded beyond that.
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~/%-]*$")
_URL_PATH_WORDS = "a URL path (a leading /, then letters, digits and . _ ~ / % - only)"
# The engine refuses a memory limit below this many MiB.
_MINIMUM_MEM_LIMIT = 6
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HEALTH_KINDS = ("http", "tcp", "command")


class DefinitionError(ValueError):
    """A definition that cannot be run; ``problems`` says each thing wrong, field first."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Health:
    kind: str  # http | tcp | command
    port: int | None = None  # http and tcp
    path: str = "/"  # http
    command: tuple[str, ...] = ()  # command
    grace: int = 30  # seconds before a failing check counts
    interval: int = 5
    timeout: int = 3
    retries: int = 3


@dataclass(frozen=True)
class Placement:
    pool: str = PRIVATE
    unique: bool = False  # at most one instance per node
    spread: str | None = None  # a node label to spread the instances over
    equals: dict[str, str] = field(default_factory=dict)  # node labels that must match
    not_equals: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Upgrade:
    """Marathon's words: the share of instances kept healthy during a
    deployment, and the share that may run on top of them."""

    minimum_healthy: float = 1.0
    maximum_over: float = 1.0


@dataclass(frozen=True)
class Expose:
    """How the public edge reaches the app."""

    port: int
    host: str | None = None
    path: str = "/"

    @property
    def route(self):
        """What the edge routes by: the host (or None for any) and the path
        prefix, a trailing slash aside (/api and /api/ are one route)."""
        return self.host, self.path.rstrip("/") or "/"


@dataclass(frozen=True)
class Volume:
    """A persistent volume: the app becomes resident on the node that holds it."""

    name: str
    path: str


@dataclass(frozen=True)
class App:
    id: str
    image: str
    instances: int = 1
    command: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cpus: float = 0.1  # reserved
    mem: int = 64  # MiB reserved
    cpus_limit: float | None = None
    mem_limit: int | None = None
    health: Health | None = None
    placement: Placement = field(default_factory=Placement)
    upgrade: Upgrade = field(default_factory=Upgrade)
    expose: Expose | None = None
    volume: Volume | None = None

    @property
    def resident(self):
        return self.volume is not None


def image_problem(image):
    """Why an image reference cannot be pulled inside the cluster, or None.

    A name without a registry host is Docker Hub's: the swarm would ask it
    for a digest, and no node here can reach it.
    """
    match = _REFERENCE.match(image)
    if match is None:
        return f"{image!r} is not an image reference (registry/name[:tag][@digest], the name in lower case)"
    registry = match["registry"]
    if registry is None or not ("." in registry or ":" in registry or registry == "localhost"):
        return f"{image!r} names no registry (write it as registry.example:5000/{image}, or push it to the cluster's)"
    return None


class _Reader:
    """Reads one mapping after another, collecting what is wrong with each field."""

    def __init__(self):
        self.problems = []

    def problem(self, path, text):
        self.problems.append(f"{path}: {text}")

    def mapping(self, value, path, known):
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                self.problem(f"{path}.{key}" if path else str(key), f"is not a field here (known: {', '.join(known)})")
        return value

    def number(self, value, path, integer, minimum=None, maximum=None):
        wanted = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, wanted):
            self.problem(path, f"must be {'an integer' if integer else 'a number'}, not {_kind(value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(path, f"{value} is below {minimum}")
        elif maximum is not None and value > maximum:
            self.problem(path, f"{value} is above {maximum}")
        return value

    def string(self, value, path, pattern=None, described=""):
        if not isinstance(value, str) or not value:
            self.problem(path, f"must be a non-empty string, not {_kind(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{value!r} is not {described}")
        return value

    def words(self, value, path):
        """A command: a list of strings (no shell parses it)."""
        if not isinstance(value, list) or not value or not all(isinstance(word, str) for word in value):
            self.problem(path, "must be a non-empty list of strings (the program and its arguments)")
            return ()
        return tuple(value)

    def labels(self, value, path, key_pattern, described):
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {_kind(value)}")
            return {}
        for key, text in value.items():
            if not isinstance(key, str) or not key_pattern.match(key):
                self.problem(f"{path}.{key}", f"{key!r} is not {described}")
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                self.problem(f"{path}.{key}", f"must be a string, not {_kind(text)}")
        return {str(key): str(text) for key, text in value.items()}


def _kind(value):
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _health(read, value, path):
    data = read.mapping(value, path, (*HEALTH_KINDS, "port", "grace", "interval", "timeout", "retries"))
    kinds = [kind for kind in HEALTH_KINDS if kind in data]
    if len(kinds) != 1:
        read.problem(path, f"needs exactly one of {', '.join(HEALTH_KINDS)}")
        return None
    kind = kinds[0]
    timing = {
        name: read.number(data[name], f"{path}.{name}", integer=True, minimum=minimum)
        for name, minimum in (("grace", 0), ("interval", 1), ("timeout", 1), ("retries", 1))
        if name in data
    }
    port = None
    if kind == "command":
        if "port" in data:
            read.problem(f"{path}.port", "is for http and tcp checks only")
        command = read.words(data["command"], f"{path}.command")
        return Health(kind, command=command, **timing)
    if "port" not in data:
        read.problem(f"{path}.port", f"is required for a {kind} check")
    else:
        port = read.number(data["port"], f"{path}.port", integer=True, minimum=1, maximum=65535)
    if kind == "tcp":
        if data["tcp"] is not True:
            read.problem(f"{path}.tcp", "must be true (the port is health.port)")
        return Health(kind, port=port, **timing)
    check_path = read.string(data["http"], f"{path}.http", _URL_PATH, _URL_PATH_WORDS)
    return Health(kind, port=port, path=check_path or "/", **timing)


def _placement(read, value, path):
    data = read.mapping(value, path, ("pool", "unique", "spread", "equals", "not_equals"))
    pool = data.get("pool", PRIVATE)
    if pool not in POOLS:
        read.problem(f"{path}.pool", f"{pool!r} is not a pool (one of {', '.join(POOLS)})")
    unique = data.get("unique", False)
    if not isinstance(unique, bool):
        read.problem(f"{path}.unique", f"must be true or false, not {_kind(unique)}")
    spread = None
    if "spread" in data:
        spread = read.string(data["spread"], f"{path}.spread", _LABEL_KEY, "a node label")
    equals, not_equals = (
        read.labels(data.get(name, {}), f"{path}.{name}", _LABEL_KEY, "a node label")
        for name in ("equals", "not_equals")
    )
    for key in sorted(equals.keys() & not_equals.keys()):
        if equals[key] == not_equals[key]:
            read.problem(f"{path}.not_equals.{key}", f"contradicts {path}.equals.{key} (no node can match both)")
    return Placement(pool, unique is True, spread, equals, not_equals)


def _upgrade(read, value, path, resident):
    data = read.mapping(value, path, ("minimum_healthy", "maximum_over"))
    shares = {
        name: read.number(data[name], f"{path}.{name}", integer=False, minimum=0, maximum=1)
        for name in ("minimum_healthy", "maximum_over")
        if name in data
    }
    upgrade = Upgrade(**{name: share for name, share in shares.items() if share is not None})
    if resident and upgrade.maximum_over > 0 and "maximum_over" in data:
        read.problem(f"{path}.maximum_over", "must be 0 for an app with a volume (its one node holds the data)")
    elif not resident and upgrade.minimum_healthy == 1 and upgrade.maximum_over == 0:
        read.problem(path, "minimum_healthy 1 with maximum_over 0 leaves no room to replace any instance")
    return upgrade if not resident else Upgrade(minimum_healthy=upgrade.minimum_healthy, maximum_over=0)


def _expose(read, value, path):
    data = read.mapping(value, path, ("port", "host", "path"))
    if "port" not in data:
        read.problem(f"{path}.port", "is required (the port the app listens on)")
        port = None
    else:
        port = read.number(data["port"], f"{path}.port", integer=True, minimum=1, maximum=65535)
    host = None
    if "host" in data:
        host = read.string(data["host"], f"{path}.host", _HOSTNAME, "a host name in lower case")
    route = read.string(data.get("path", "/"), f"{path}.path", _URL_PATH, _URL_PATH_WORDS)
    return Expose(port, host, route) if port is not None and route is not None else None


def _volume(read, value, path):
    data = read.mapping(value, path, ("name", "path"))
    name = read.string(data.get("name"), f"{path}.name", _DNS_LABEL, "a volume name (a-z, 0-9 and '-')")
    mount = read.string(data.get("path"), f"{path}.path")
    if mount is not None and not mount.startswith("/"):
        read.problem(f"{path}.path", f"{mount!r} is not an absolute path")
    return Volume(name, mount) if name and mount else None


APP_FIELDS = (
    "id",
    "image",
    "instances",
    "command",
    "env",
    "cpus",
    "mem",
    "limits",
    "health",
    "placement",
    "upgrade",
    "expose",
    "volume",
)


def parse_app(data, where=""):
    """The App that ``data`` (a mapping read from YAML or JSON) defines; or
    DefinitionError with every problem, each prefixed by its field (and by
    ``where``, e.g. "scheduler_apps[2]")."""
    if not isinstance(data, dict):
        raise DefinitionError([f"{where or 'app'}: must be a mapping of the app's fields, not {_kind(data)}"])
    read = _Reader()
    prefix = f"{where}." if where else ""
    read.mapping(data, where, APP_FIELDS)
    for required in ("id", "image"):
        if required not in data:
            read.problem(f"{prefix}{required}", "is required")
    app_id = None
    if "id" in data:
        app_id = read.string(data["id"], f"{prefix}id", _DNS_LABEL, "a DNS label (a-z, 0-9 and '-', at most 63)")
    image = read.string(data["image"], f"{prefix}image") if "image" in data else None
    if image is not None and (problem := image_problem(image)):
        read.problem(f"{prefix}image", problem)
    values = {}
    if "instances" in data:
        values["instances"] = read.number(data["instances"], f"{prefix}instances", integer=True, minimum=0)
    if "command" in data:
        values["command"] = read.words(data["command"], f"{prefix}command")
    if "env" in data:
        values["env"] = read.labels(data["env"], f"{prefix}env", _ENV_NAME, "an environment variable name")
    if "cpus" in data:
        values["cpus"] = read.number(data["cpus"], f"{prefix}cpus", integer=False, minimum=0.01)
    if "mem" in data:
        values["mem"] = read.number(data["mem"], f"{prefix}mem", integer=True, minimum=4)
    if "limits" in data:
        limits = read.mapping(data["limits"], f"{prefix}limits", ("cpus", "mem"))
        if "cpus" in limits:
            values["cpus_limit"] = read.number(limits["cpus"], f"{prefix}limits.cpus", integer=False, minimum=0.01)
        if "mem" in limits:
            values["mem_limit"] = read.number(
                limits["mem"], f"{prefix}limits.mem", integer=True, minimum=_MINIMUM_MEM_LIMIT
            )
    volume = _volume(read, data["volume"], f"{prefix}volume") if "volume" in data else None
    parts = {
        "health": _health(read, data["health"], f"{prefix}health") if "health" in data else None,
        "placement": _placement(read, data.get("placement", {}), f"{prefix}placement"),
        "upgrade": _upgrade(read, data.get("upgrade", {}), f"{prefix}upgrade", resident=volume is not None),
        "expose": _expose(read, data["expose"], f"{prefix}expose") if "expose" in data else None,
        "volume": volume,
    }
    values = {name: value for name, value in values.items() if value is not None}
    for reserved, limit in (("cpus", "cpus_limit"), ("mem", "mem_limit")):
        # The default reservation counts too: the engine refuses every task
        # whose limit is below its reservation.
        reservation = values.get(reserved, getattr(App, reserved))
        if limit in values and values[limit] < reservation:
            read.problem(f"{prefix}limits.{reserved}", f"{values[limit]} is below the reservation {reservation}")
    if volume is not None and values.get("instances", 1) > 1:
        read.problem(f"{prefix}instances", "must be 0 or 1 for an app with a volume (the volume lives on one node)")
    if read.problems:
        raise DefinitionError(read.problems)
    return App(id=app_id, image=image, **values, **parts)


def parse_apps(items, where="apps"):
    """Every App of a list, with the problems of all of them at once; an id
    given twice is one too."""
    if not isinstance(items, list):
        raise DefinitionError([f"{where}: must be a list of app definitions, not {_kind(items)}"])
    apps, problems, seen = [], [], set()
    for index, item in enumerate(items):
        try:
            app = parse_app(item, where=f"{where}[{index}]")
        except DefinitionError as err:
            problems.extend(err.problems)
            continue
        if app.id in seen:
            problems.append(f"{where}[{index}].id: {app.id!r} is defined twice")
        seen.add(app.id)
        apps.append(app)
    if problems:
        raise DefinitionError(problems)
    return apps


def to_data(app):
    """The definition of ``app`` in the schema's own words, so that
    ``parse_app(to_data(app)) == app``: what the swarm keeps and serves back."""
    data = {"id": app.id, "image": app.image, "instances": app.instances, "cpus": app.cpus, "mem": app.mem}
    if app.command:
        data["command"] = list(app.command)
    if app.env:
        data["env"] = dict(app.env)
    limits = {name: value for name, value in (("cpus", app.cpus_limit), ("mem", app.mem_limit)) if value is not None}
    if limits:
        data["limits"] = limits
    if app.health is not None:
        health = app.health
        timing = {"grace": health.grace, "interval": health.interval, "timeout": health.timeout}
        timing["retries"] = health.retries
        if health.kind == "command":
            data["health"] = {"command": list(health.command), **timing}
        elif health.kind == "tcp":
            data["health"] = {"tcp": True, "port": health.port, **timing}
        else:
            data["health"] = {"http": health.path, "port": health.port, **timing}
    placement = app.placement
    data["placement"] = {"pool": placement.pool, "unique": placement.unique}
    if placement.spread:
        data["placement"]["spread"] = placement.spread
    for name in ("equals", "not_equals"):
        if getattr(placement, name):
            data["placement"][name] = dict(getattr(placement, name))
    data["upgrade"] = {"minimum_healthy": app.upgrade.minimum_healthy, "maximum_over": app.upgrade.maximum_over}
    if app.expose is not None:
        data["expose"] = {"port": app.expose.port, "path": app.expose.path}
        if app.expose.host:
            data["expose"]["host"] = app.expose.host
    if app.volume is not None:
        data["volume"] = {"name": app.volume.name, "path": app.volume.path}
    return data
