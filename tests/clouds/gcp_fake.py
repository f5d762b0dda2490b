"""A stateful fake of the Compute Engine REST API, and the contract suite's GCP harness.

google-cloud-compute speaks REST through `requests`, and so do the operation
polling inside ExtendedOperation.result() and google-auth's token refresh:
one `responses.RequestsMock` serves all of it, so the provider's real SDK
calls, retries and credential chain run unchanged.

The fake keeps a project's resources in dicts and behaves like Compute where
a provider could get it wrong: operations go PENDING, RUNNING, DONE as
requests arrive and time passes (see Latency), and deletions take effect
only when theirs is done; instances go PROVISIONING, STAGING, RUNNING as
they are read once their insert is done; names, labels and references are
checked; bulkInsert is held to BulkInsertInstanceResource's rules; a network
or subnetwork still in use cannot be deleted; list filters are applied, or
refused where Compute's syntax refuses them, never ignored; an organization
policy requiring OS Login refuses `enable-oslogin=FALSE`; a request without
the access token the fake issued is refused. It also answers the older
www.googleapis.com root and aggregatedList, which the gcp_compute inventory
plugin uses, and Resource Manager's getEffectiveOrgPolicy.
"""

import contextlib
import dataclasses
import ipaddress
import itertools
import json
import os
import re
import tempfile
import threading
import time
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from provisioners.providers.base import TAG_CLUSTER
from tests.clouds.harness import EVERY_PROTOCOL, WORLD, CloudHarness, Interrupted, ports_between

API_ROOT = "https://compute.googleapis.com/compute/v1/"
# The older address of the same API, which the gcp_compute inventory plugin uses.
API_ROOTS = (API_ROOT, "https://www.googleapis.com/compute/v1/")
TOKEN_URL = "https://oauth2.googleapis.com/token"
ORG_POLICY_URL = re.compile(
    r"^https://cloudresourcemanager\.googleapis\.com/v1/projects/(?P<project>[^/:]+):getEffectiveOrgPolicy$"
)
OS_LOGIN_CONSTRAINT = "constraints/compute.requireOsLogin"
METADATA_URL = re.compile(r"http://(169\.254\.169\.254|metadata\.google\.internal)/.*")
# The bulkInsert placeholder: one continuous run of '#', the instance's number.
NAME_PATTERN = re.compile(r"^[^#]*(#+)[^#]*$")
PROJECT = "flotilla-fake"
ZONE = "europe-west1-b"
SSH_CIDR = "203.0.113.0/24"
REFRESH_TOKEN = "fake-refresh-token"

ROUTE = re.compile(
    r"^projects/(?P<project>[^/]+)/(?P<scope>global|regions/[^/]+|zones/[^/]+|aggregated)/"
    r"(?P<kind>networks|subnetworks|firewalls|instances|operations)(?:/(?P<name>[^/]+))?(?P<wait>/wait)?$"
)
REFERENCE = r"(?:projects/(?P<project>[^/]+)/)?(?P<scope>global|regions/[^/]+|zones/[^/]+)/{kind}/(?P<name>[^/]+)$"
# Where each kind of resource lives; Compute has no other path to it.
# The protocols a firewall rule names (else an IP protocol number), and those
# that take ports, as Compute's API documents them.
FIREWALL_PROTOCOLS = ("tcp", "udp", "icmp", "esp", "ah", "ipip", "sctp", "all")
PORTED_PROTOCOLS = ("tcp", "udp", "sctp")
SCOPE_KINDS = {"networks": "global", "firewalls": "global", "subnetworks": "regions", "instances": "zones"}
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
FILTER_TERM = re.compile(r'^(?P<field>[\w.-]+)\s*(?P<op>!=|=|\beq\b|\bne\b)\s*(?P<value>"[^"]*"|[^\s()"]+)$')
INSTANCE_STEPS = ("PROVISIONING", "STAGING", "RUNNING")
OPERATION_STEPS = ("PENDING", "RUNNING", "DONE")
QUOTA_ERROR = {"code": "QUOTA_EXCEEDED", "message": "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1."}
# External addresses come from the range set aside for benchmarks (RFC 2544).
EXTERNAL_ADDRESSES = ipaddress.IPv4Network("198.18.0.0/15")


@dataclasses.dataclass
class Latency:
    """How long Compute takes: each answer ``request`` seconds, each
    operation at least ``operation`` seconds (and always two more requests
    of any kind after it started, so that it is seen PENDING and RUNNING).
    Zero in tests; bench/cloud_scale.py sets real-looking values, scaled down."""

    request: float = 0.0
    operation: float = 0.0


class ApiError(Exception):
    """An answer in Compute's JSON error shape."""

    def __init__(self, status, reason, message):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def answer(self):
        error = {
            "code": self.status,
            "message": self.message,
            "errors": [{"message": self.message, "reason": self.reason}],
        }
        return self.status, {"Content-Type": "application/json"}, json.dumps({"error": error})


def _ok(body):
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def _now():
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ComputeFake:
    """Compute Engine's REST endpoints for one project."""

    def __init__(self, project, access_token, refresh_token):
        self.project = project
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.resources = {}  # (kind, scope, name) -> the resource as Compute returns it
        self.operations = {}  # (scope, name) -> the operation as Compute returns it
        self._on_done = {}  # (scope, name) -> (what finishing applies, the error it ends with)
        self._progress = {}  # (scope, name) -> [when it started, requests seen since]
        self._created_by = {}  # an instance's key -> its insert operation's key
        self.latency = Latency()
        # Requests arrive from several threads; each is answered whole, one at a time.
        self._lock = threading.Lock()
        # The most requests, and operations, that were under way at once.
        self._in_flight = self.peak_requests = self.peak_operations = 0
        self._by_request_id = {}
        self._ids = itertools.count(4_000_000_000)
        self._external = EXTERNAL_ADDRESSES.hosts()
        # What the next instance inserts meet: None (nothing), a failure kind, or "interrupt".
        self._schedule = []
        self._throttled = 0
        # How many instance deletions to answer as done without doing them.
        self.kept_deletions = 0
        # The project's own metadata (projects.get), the organization policy
        # constraints enforced on it, and whether the caller may read those.
        self.project_metadata = {}
        self.enforced_constraints = set()
        self.org_policy_readable = True
        self.total_calls = self.mutating_calls = self.failed_calls = 0

    def register(self, requests_mock):
        api = re.compile("(" + "|".join(map(re.escape, API_ROOTS)) + ").*")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            requests_mock.add_callback(method, api, callback=self._handle)
        requests_mock.add_callback("POST", TOKEN_URL, callback=self._token)
        requests_mock.add_callback("POST", ORG_POLICY_URL, callback=self._effective_org_policy)
        requests_mock.add_callback("GET", METADATA_URL, callback=self._no_metadata_server)

    def schedule(self, outcomes):
        self._schedule = list(outcomes)

    # -- HTTP ---------------------------------------------------------------

    def _token(self, request):
        self.total_calls += 1
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        if form.get("refresh_token") != [self.refresh_token]:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": "invalid_grant"})
        return _ok({"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"})

    def _effective_org_policy(self, request):
        """Resource Manager's projects.getEffectiveOrgPolicy, for boolean constraints."""
        with self._lock:
            self.total_calls += 1
            project = ORG_POLICY_URL.match(request.url)["project"]
            if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                return ApiError(401, "authError", "Request had invalid authentication credentials.").answer()
            if project != self.project or not self.org_policy_readable:
                return ApiError(403, "forbidden", "The caller does not have permission").answer()
            constraint = json.loads(request.body)["constraint"]
            enforced = {"enforced": True} if constraint in self.enforced_constraints else {}
            return _ok({"constraint": constraint, "booleanPolicy": enforced})

    def _no_metadata_server(self, request):
        # This is not a GCE machine: nothing answers at the metadata address.
        raise requests.exceptions.ConnectionError(f"no metadata server at {request.url}")

    def _handle(self, request):
        with self._lock:
            self._in_flight += 1
            self.peak_requests = max(self.peak_requests, self._in_flight)
        try:
            # The answer's latency overlaps other requests', as over a network.
            time.sleep(self.latency.request)
            with self._lock:
                return self._answer(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request):
        self.total_calls += 1
        # Compute works on every operation at once: time passes for all of
        # them with each request, whatever it asks.
        self._advance_all()
        try:
            if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                raise ApiError(401, "authError", "Request had invalid authentication credentials.")
            return self._route(request)
        except ApiError as err:
            return err.answer()
        finally:
            running = sum(operation["status"] != "DONE" for operation in self.operations.values())
            self.peak_operations = max(self.peak_operations, running)

    def _route(self, request):
        url = urlsplit(request.url)
        path = url.path.removeprefix("/compute/v1/")
        if path == f"projects/{self.project}" and request.method == "GET":
            return _ok(self._project())
        match = ROUTE.match(path)
        if not match:
            raise ApiError(404, "notFound", f"no Compute endpoint {url.path} in this fake")
        if match["project"] != self.project:
            raise ApiError(404, "notFound", f"The resource 'projects/{match['project']}' was not found")
        kind, scope, name, method = match["kind"], match["scope"], match["name"], request.method
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if kind == "operations" and name is None and method == "GET":
            return _ok(self._page(kind, scope, self._operations_in(scope), query))
        if kind == "operations":
            return self._operation(method, scope, name, wait=bool(match["wait"]))
        if kind == "instances" and name == "bulkInsert" and method == "POST" and not match["wait"]:
            return _ok(self._bulk_insert(scope, json.loads(request.body), query))
        if scope == "aggregated" and kind == "instances" and name is None and method == "GET":
            return _ok(self._aggregated_instances(query))
        if scope.split("/")[0] != SCOPE_KINDS[kind] or match["wait"]:
            raise ApiError(404, "notFound", f"no Compute endpoint {url.path}")
        if name is None and method == "GET":
            return _ok(self._list(kind, scope, query))
        if method == "GET":
            return _ok(self._read(kind, scope, name))
        if name is None and method == "POST":
            return _ok(self._insert(kind, scope, json.loads(request.body), query))
        if method == "DELETE":
            self.mutating_calls += 1
            return _ok(self._delete(kind, scope, name))
        if method in ("PUT", "PATCH") and kind == "firewalls":
            self.mutating_calls += 1
            return _ok(self._update(scope, name, json.loads(request.body), replace=method == "PUT"))
        raise ApiError(405, "badRequest", f"{method} is not allowed on {url.path}")

    # -- resources ----------------------------------------------------------

    def _project(self):
        items = [{"key": key, "value": value} for key, value in self.project_metadata.items()]
        return {
            "kind": "compute#project",
            "name": self.project,
            "id": "4242",
            "commonInstanceMetadata": {"kind": "compute#metadata", "items": items},
            "selfLink": f"{API_ROOT}projects/{self.project}",
        }

    def _link(self, kind, scope, name):
        return f"{API_ROOT}projects/{self.project}/{scope}/{kind}/{name}"

    def _resolve(self, kind, reference, field):
        """The key of the resource a partial or full URL names; Compute refuses dangling ones."""
        match = re.search(REFERENCE.format(kind=kind), reference or "")
        key = match and (kind, match["scope"], match["name"])
        if not key or match["project"] not in (None, self.project) or key not in self.resources:
            raise ApiError(
                400, "invalid", f"Invalid value for field '{field}': '{reference}'. The resource was not found."
            )
        return key

    def _read(self, kind, scope, name):
        resource = self.resources.get((kind, scope, name))
        if resource is None:
            raise ApiError(404, "notFound", f"The resource '{self._link(kind, scope, name)}' was not found")
        if kind == "instances":
            self._step_instance(resource)
        return resource

    def _list(self, kind, scope, query):
        items = [r for (k, s, _), r in sorted(self.resources.items()) if (k, s) == (kind, scope)]
        page = self._page(kind, scope, items, query)
        if kind == "instances":
            for item in page.get("items", ()):
                self._step_instance(item)
        return page

    def _operations_in(self, scope):
        return [operation for (s, _), operation in self.operations.items() if s == scope]

    def _page(self, kind, scope, items, query):
        if query.get("filter"):
            items = [item for item in items if _matches(item, query["filter"])]
        start = int(query.get("pageToken", 0))
        end = start + int(query.get("maxResults", 500))
        page = {"kind": f"compute#{kind[:-1]}List", "selfLink": f"{API_ROOT}projects/{self.project}/{scope}/{kind}"}
        if items[start:end]:
            page["items"] = items[start:end]
        if end < len(items):
            page["nextPageToken"] = str(end)
        return page

    def _step_instance(self, instance):
        """An instance reads PROVISIONING, STAGING, then RUNNING, once its insert is done."""
        key = ("instances", "zones/" + instance["zone"].rsplit("/", 1)[-1], instance["name"])
        operation = self.operations.get(self._created_by.get(key))
        if operation is not None and operation["status"] != "DONE":
            return
        if instance["status"] in INSTANCE_STEPS[:-1]:
            instance["status"] = INSTANCE_STEPS[INSTANCE_STEPS.index(instance["status"]) + 1]

    def _aggregated_instances(self, query):
        """instances.aggregatedList: every zone's instances, keyed by "zones/<zone>"
        (what the gcp_compute inventory plugin reads); one page is enough here."""
        zones = {}
        for (kind, scope, _), instance in sorted(self.resources.items()):
            if kind == "instances" and (not query.get("filter") or _matches(instance, query["filter"])):
                zones.setdefault(scope, {"instances": []})["instances"].append(instance)
        return {"kind": "compute#instanceAggregatedList", "items": zones}

    def _insert(self, kind, scope, body, query):
        outcome = self._schedule.pop(0) if kind == "instances" and self._schedule else None
        if outcome == "interrupt":
            raise Interrupted("the flotilla process was killed")
        self.mutating_calls += 1
        if query.get("requestId") in self._by_request_id:
            return self.operations[self._by_request_id[query["requestId"]]]
        if outcome in ("throttle", "permission"):
            self.failed_calls += 1
            raise self._injected(outcome, body)
        name = body.get("name", "")
        if not NAME.match(name):
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
        key = (kind, scope, name)
        if key in self.resources:
            raise ApiError(409, "alreadyExists", f"The resource '{self._link(*key)}' already exists")
        resource = {
            **body,
            "kind": f"compute#{kind[:-1]}",
            "id": str(next(self._ids)),
            "creationTimestamp": _now(),
            "selfLink": self._link(*key),
        }
        getattr(self, f"_check_{kind}")(scope, resource)
        if outcome == "quota":
            # Quota is checked when the operation runs: it fails and nothing is made.
            self.failed_calls += 1
            operation = self._start_operation("insert", scope, resource["selfLink"], error=QUOTA_ERROR)
        else:
            self.resources[key] = resource
            operation = self._start_operation("insert", scope, resource["selfLink"])
            self._created_by[key] = (scope, operation["name"])
        if "requestId" in query:
            self._by_request_id[query["requestId"]] = (scope, operation["name"])
        return operation

    def _bulk_insert(self, scope, body, query):
        """instances.bulkInsert, with the rules of BulkInsertInstanceResource in
        Compute's REST reference; minCount instances or none are made."""
        outcome = self._schedule.pop(0) if self._schedule else None
        if outcome == "interrupt":
            raise Interrupted("the flotilla process was killed")
        self.mutating_calls += 1
        if query.get("requestId") in self._by_request_id:
            return self.operations[self._by_request_id[query["requestId"]]]
        if outcome in ("throttle", "permission"):
            self.failed_calls += 1
            raise self._injected(outcome, body)
        if ("sourceInstanceTemplate" in body) == ("instanceProperties" in body):
            raise ApiError(400, "invalid", "Exactly one of sourceInstanceTemplate and instanceProperties must be set.")
        if "sourceInstanceTemplate" in body:
            raise ApiError(400, "invalid", "This fake has no instance templates: send instanceProperties.")
        count = int(body.get("count", 0))
        min_count = int(body.get("minCount", count))
        if count < 1 or not 1 <= min_count <= count:
            raise ApiError(400, "invalid", f"Invalid count {count} / minCount {min_count}: 1 <= minCount <= count.")
        names = self._bulk_names(scope, body, count)
        machine_type = body["instanceProperties"].get("machineType", "")
        if "/" in machine_type or not machine_type:
            # Compute answers a URL here with INTERNAL_ERROR; the reference asks for a name.
            raise ApiError(400, "invalid", f"instanceProperties.machineType takes a name only, not '{machine_type}'.")
        for name in names:
            if not NAME.match(name):
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
            if ("instances", scope, name) in self.resources:
                raise ApiError(
                    409, "alreadyExists", f"The resource '{self._link('instances', scope, name)}' already exists"
                )
        made = []  # each is added at once, so that the next gets another address
        try:
            for name in names:
                key = ("instances", scope, name)
                instance = {
                    **json.loads(json.dumps(body["instanceProperties"])),
                    "name": name,
                    "machineType": f"{scope}/machineTypes/{machine_type}",
                    "kind": "compute#instance",
                    "id": str(next(self._ids)),
                    "creationTimestamp": _now(),
                    "selfLink": self._link(*key),
                }
                self._check_instances(scope, instance)
                self.resources[key] = instance
                made.append(key)
        except ApiError:
            for key in made:
                del self.resources[key]
            raise
        target = f"{API_ROOT}projects/{self.project}/{scope}"
        if outcome == "quota":
            # Quota is checked when the operation runs: fewer than minCount, so none.
            self.failed_calls += 1
            for key in made:
                del self.resources[key]
            operation = self._start_operation("bulkInsert", scope, target, error=QUOTA_ERROR)
        else:
            operation = self._start_operation("bulkInsert", scope, target)
            self._created_by.update(dict.fromkeys(made, (scope, operation["name"])))
        if "requestId" in query:
            self._by_request_id[query["requestId"]] = (scope, operation["name"])
        return operation

    def _bulk_names(self, scope, body, count):
        """The names of the instances a bulkInsert makes: perInstanceProperties'
        keys, then as many from namePattern as ``count`` still asks."""
        names = list(body.get("perInstanceProperties", {}))
        pattern = body.get("namePattern")
        if not pattern and not names:
            raise ApiError(400, "invalid", "Either namePattern or perInstanceProperties must be set.")
        for name, properties in body.get("perInstanceProperties", {}).items():
            if properties.get("name", name) != name:
                raise ApiError(400, "invalid", f"perInstanceProperties['{name}'].name must be its key.")
        if len(names) > count or (len(names) < count and not pattern):
            raise ApiError(400, "invalid", f"count {count} does not match the {len(names)} names given.")
        if pattern:
            placeholder = NAME_PATTERN.match(pattern)
            if not placeholder:
                raise ApiError(400, "invalid", f"namePattern '{pattern}' needs one continuous run of '#'.")
            head, _, tail = pattern.partition(placeholder[1])
            width = len(placeholder[1])
            numbers = re.compile(rf"^{re.escape(head)}(\d{{{width}}}){re.escape(tail)}$")
            # Numbering goes on after the biggest existing match.
            taken = [
                int(m[1]) for (k, s, n) in self.resources if (k, s) == ("instances", scope) and (m := numbers.match(n))
            ]
            start = max(taken, default=0) + 1
            names += [f"{head}{number:0{width}d}{tail}" for number in range(start, start + count - len(names))]
        return names

    def _injected(self, outcome, body):
        if outcome == "permission":
            return ApiError(
                403, "forbidden", f"Required 'compute.instances.create' permission for '{body.get('name')}'"
            )
        # Compute has answered rate limiting both ways; take turns.
        self._throttled += 1
        return ApiError(429 if self._throttled % 2 == 0 else 403, "rateLimitExceeded", "Rate Limit Exceeded")

    def _check_networks(self, scope, network):
        network.setdefault("routingConfig", {"routingMode": "REGIONAL"})

    def _check_subnetworks(self, scope, subnetwork):
        network = self._resolve("networks", subnetwork.get("network"), "resource.network")
        try:
            ipaddress.IPv4Network(subnetwork.get("ipCidrRange"))
        except (ValueError, TypeError):
            raise ApiError(400, "invalid", f"Invalid IPCidrRange: {subnetwork.get('ipCidrRange')}.") from None
        subnetwork["region"] = f"{API_ROOT}projects/{self.project}/{scope}"
        subnetwork["network"] = self._link(*network)

    def _check_firewalls(self, scope, firewall):
        firewall["network"] = self._link(*self._resolve("networks", firewall.get("network"), "resource.network"))
        if not firewall.get("allowed") or not all(rule.get("IPProtocol") for rule in firewall["allowed"]):
            raise ApiError(400, "invalid", "Invalid value for field 'resource.allowed': every rule needs IPProtocol.")
        for index, rule in enumerate(firewall["allowed"]):
            protocol = rule["IPProtocol"]
            if protocol not in FIREWALL_PROTOCOLS and not (protocol.isdigit() and int(protocol) <= 255):
                raise ApiError(
                    400, "invalid", f"Invalid value for field 'resource.allowed[{index}].IPProtocol': '{protocol}'."
                )
            if rule.get("ports") and protocol not in PORTED_PROTOCOLS:
                raise ApiError(
                    400,
                    "invalid",
                    f"Invalid value for field 'resource.allowed[{index}].ports[0]': '{rule['ports'][0]}'. "
                    "Ports may only be specified on rules whose protocol is one of [TCP, UDP, SCTP].",
                )
        firewall.setdefault("direction", "INGRESS")
        firewall.setdefault("priority", 1000)
        # Compute's own default: an ingress rule that names no source admits everyone.
        if not firewall.get("sourceRanges") and not firewall.get("sourceTags"):
            firewall["sourceRanges"] = ["0.0.0.0/0"]

    def _check_instances(self, scope, instance):
        zone = scope.split("/")[1]
        if not re.search(rf"(^|/)zones/{zone}/machineTypes/[a-z0-9-]+$", instance.get("machineType", "")):
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.machineType': '{instance.get('machineType')}'."
            )
        metadata = {item["key"]: item.get("value") for item in instance.get("metadata", {}).get("items", ())}
        os_login = str(metadata.get("enable-oslogin", "")).lower()
        if OS_LOGIN_CONSTRAINT in self.enforced_constraints and os_login in ("false", "f", "0"):
            raise ApiError(
                412, "conditionNotMet", f"Constraint {OS_LOGIN_CONSTRAINT} violated for project {self.project}."
            )
        for key, value in instance.get("labels", {}).items():
            if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.labels': '{key}={value}'.")
        boot = [disk for disk in instance.get("disks", ()) if disk.get("boot")]
        if len(boot) != 1 or not boot[0].get("initializeParams", {}).get("sourceImage"):
            raise ApiError(
                400, "invalid", "Invalid value for field 'resource.disks': one boot disk needs a sourceImage."
            )
        interfaces = instance.get("networkInterfaces") or [{}]
        key = self._resolve("subnetworks", interfaces[0].get("subnetwork"), "resource.networkInterfaces[0].subnetwork")
        if key[1] != "regions/" + zone.rsplit("-", 1)[0]:
            raise ApiError(400, "invalid", f"Subnetwork {key[2]} is not in the region of zone {zone}.")
        subnetwork = self.resources[key]
        interfaces[0].update(
            subnetwork=subnetwork["selfLink"], network=subnetwork["network"], networkIP=self._free_address(subnetwork)
        )
        for config in interfaces[0].get("accessConfigs", ()):
            config["natIP"] = str(next(self._external))
        instance.update(
            networkInterfaces=interfaces, status="PROVISIONING", zone=f"{API_ROOT}projects/{self.project}/{scope}"
        )

    def _free_address(self, subnetwork):
        used = {
            r["networkInterfaces"][0]["networkIP"]
            for (kind, _, _), r in self.resources.items()
            if kind == "instances" and r["networkInterfaces"][0]["subnetwork"] == subnetwork["selfLink"]
        }
        # The first two addresses are the network's and its gateway's.
        hosts = itertools.islice(ipaddress.IPv4Network(subnetwork["ipCidrRange"]).hosts(), 1, None)
        return next(str(host) for host in hosts if str(host) not in used)

    def _update(self, scope, name, body, replace):
        current = self._read("firewalls", scope, name)
        kept = {key: current[key] for key in ("kind", "id", "creationTimestamp", "selfLink", "network")}
        updated = {**(body if replace else {**current, **body}), **kept}
        self._check_firewalls(scope, updated)
        self.resources["firewalls", scope, name] = updated
        return self._start_operation("update", scope, current["selfLink"])

    def _delete(self, kind, scope, name):
        key = (kind, scope, name)
        resource = self._read(kind, scope, name)
        users = list(self._users(kind, resource["selfLink"]))
        if users:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The {kind[:-1]} resource '{resource['selfLink']}' is already being used by '{users[0]}'",
            )
        if kind == "instances" and self.kept_deletions:
            self.kept_deletions -= 1
            return self._start_operation("delete", scope, resource["selfLink"])
        if kind == "instances":
            resource["status"] = "STOPPING"
        return self._start_operation("delete", scope, resource["selfLink"], apply=lambda: self.resources.pop(key, None))

    def _users(self, kind, link):
        """Links of the resources that refer to ``link`` and so keep it from being deleted."""
        for resource in self.resources.values():
            if kind == "networks" and resource.get("network") == link:
                yield resource["selfLink"]
            if kind == "subnetworks" and any(
                i.get("subnetwork") == link for i in resource.get("networkInterfaces", ())
            ):
                yield resource["selfLink"]

    # -- operations ---------------------------------------------------------

    def _start_operation(self, operation_type, scope, target, apply=None, error=None):
        name = f"operation-{next(self._ids)}"
        operation = {
            "kind": "compute#operation",
            "id": str(next(self._ids)),
            "name": name,
            "operationType": operation_type,
            "targetLink": target,
            "status": "PENDING",
            "progress": 0,
            "insertTime": _now(),
            "selfLink": f"{API_ROOT}projects/{self.project}/{scope}/operations/{name}",
        }
        if scope != "global":
            operation[scope.split("/")[0][:-1]] = f"{API_ROOT}projects/{self.project}/{scope}"
        self.operations[scope, name] = operation
        self._on_done[scope, name] = (apply, error)
        self._progress[scope, name] = [time.monotonic(), 0]
        return operation

    def _operation(self, method, scope, name, wait):
        operation = self.operations.get((scope, name))
        if operation is None or (method, wait) not in (("GET", False), ("POST", True)):
            raise ApiError(404, "notFound", f"The resource 'operations/{name}' was not found")
        # Like Compute's `wait`, which may return before the operation is done.
        return _ok(operation)

    def _advance_all(self):
        now = time.monotonic()
        for key, operation in self.operations.items():
            if operation["status"] == "DONE":
                continue
            progress = self._progress.setdefault(key, [now, 0])
            progress[1] += 1
            finished = progress[1] >= len(OPERATION_STEPS) - 1 and now - progress[0] >= self.latency.operation
            operation["status"] = "DONE" if finished else "RUNNING"
            if operation["status"] == "DONE":
                apply, error = self._on_done.pop(key)
                operation.update(progress=100, endTime=_now())
                if apply:
                    apply()
                if error:
                    operation.update(error={"errors": [error]}, httpErrorStatusCode=403, httpErrorMessage="FORBIDDEN")


def _matches(resource, expression):
    """Compute's filter syntax, as far as Flotilla and the gcp_compute plugin
    use it, with the rules Compute's reference states: several expressions
    each in parentheses (joined by AND or by a space), never AIP-160
    operators (=, !=) and regular expressions (eq, ne) in one filter, and a
    regular expression on one field only."""
    text = expression.strip()
    if text.startswith("("):
        terms = re.split(r"\)\s+(?:AND\s+)?\(", text[1:-1] if text.endswith(")") else "")
    else:
        terms = [text]
    matches = [FILTER_TERM.match(term.strip()) for term in terms]
    if not all(matches):
        raise _bad_filter(expression, "each of several expressions must be in parentheses")
    regex = {match["op"] in ("eq", "ne") for match in matches}
    if len(regex) > 1:
        raise _bad_filter(expression, "regular expressions (eq, ne) and AIP-160 (=, !=) cannot be mixed")
    if regex == {True} and len({match["field"] for match in matches}) > 1:
        raise _bad_filter(expression, "regular expressions cannot constrain several fields")
    for match in matches:
        value = resource
        for part in match["field"].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        wanted = match["value"].strip('"')
        if match["op"] in ("eq", "ne"):
            found = value is not None and re.fullmatch(wanted, str(value)) is not None
        else:
            found = value is not None and str(value) == wanted
        if found != (match["op"] in ("=", "eq")):
            return False
    return True


def _bad_filter(expression, why):
    return ApiError(400, "invalid", f"Invalid value for field 'filter': '{expression}' ({why}).")


class Harness(CloudHarness):
    provider = "gcp"

    def __enter__(self):
        self._exit = contextlib.ExitStack()
        home = self._exit.enter_context(tempfile.TemporaryDirectory(prefix="flotilla-gcp-"))
        # What `gcloud auth application-default login` writes: the real
        # google-auth chain finds it and refreshes its token at the fake.
        self.credentials_file = os.path.join(home, "credentials.json")
        with open(self.credentials_file, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "type": "authorized_user",
                    "client_id": "flotilla-fake.apps.googleusercontent.com",
                    "client_secret": "not-a-secret",
                    "refresh_token": REFRESH_TOKEN,
                },
                handle,
            )
        self.fake = ComputeFake(PROJECT, access_token="fake-access-token", refresh_token=REFRESH_TOKEN)
        requests_mock = self._exit.enter_context(responses.RequestsMock(assert_all_requests_are_fired=False))
        self.fake.register(requests_mock)
        # An empty gcloud configuration, so that the developer's own never counts.
        gcloud_config = os.path.join(home, "gcloud")
        environment = {"GOOGLE_APPLICATION_CREDENTIALS": self.credentials_file, "CLOUDSDK_CONFIG": gcloud_config}
        self._exit.enter_context(mock.patch.dict(os.environ, environment))
        self._clients = {}
        return self

    def __exit__(self, *exc):
        self._exit.close()

    def options(self):
        return {"project": PROJECT, "zone": ZONE, "ssh_cidr": SSH_CIDR}

    def _client(self, name):
        if name not in self._clients:
            from google.cloud import compute_v1
            from google.oauth2.credentials import Credentials

            credentials = Credentials.from_authorized_user_file(self.credentials_file)
            self._clients[name] = getattr(compute_v1, name)(credentials=credentials)
        return self._clients[name]

    def _instances(self, cluster):
        from google.cloud import compute_v1

        request = compute_v1.ListInstancesRequest(
            project=PROJECT, zone=ZONE, filter=f'labels.{TAG_CLUSTER} = "{cluster}"'
        )
        return list(self._client("InstancesClient").list(request=request))

    def _owned(self, client, cluster, **request):
        """The cluster's networks, subnetworks or firewalls: these carry no labels,
        so the cluster is named in their description, as `flotilla-cluster=<name>`."""
        resources = self._client(client).list(project=PROJECT, **request)
        return [r for r in resources if f"{TAG_CLUSTER}={cluster}" in r.description.split(":")[0].split()]

    def machines(self, cluster):
        return [
            {
                "name": instance.name,
                "state": "running" if instance.status == "RUNNING" else instance.status.lower(),
                "tags": dict(instance.labels),
                "address": instance.network_interfaces[0].access_configs[0].nat_i_p
                or instance.network_interfaces[0].network_i_p,
            }
            for instance in self._instances(cluster)
            if instance.status != "TERMINATED"
        ]

    def networks(self, cluster):
        return [network.name for network in self._owned("NetworksClient", cluster)]

    def openings(self, cluster):
        machines = self.machines(cluster)
        tagged = {}  # network tag -> the names of the instances that carry it
        for instance in self._instances(cluster):
            for tag in instance.tags.items:
                tagged.setdefault(tag, set()).add(instance.name)
        networks = set(self.networks(cluster))
        opened = set()
        # Every rule of the cluster's network, whoever made it.
        for firewall in self._client("FirewallsClient").list(project=PROJECT):
            if firewall.network.rsplit("/", 1)[-1] not in networks or firewall.direction != "INGRESS":
                continue
            # No target tags: every instance of the network.
            if firewall.target_tags:
                target = self.who(machines, set().union(*(tagged.get(tag, set()) for tag in firewall.target_tags)))
            else:
                target = self.who(machines, {m["name"] for m in machines})
            sources = [WORLD if source == "0.0.0.0/0" else source for source in firewall.source_ranges]
            sources += [self.who(machines, tagged.get(tag, ())) for tag in firewall.source_tags]
            for allowed in firewall.allowed:
                protocol = EVERY_PROTOCOL if allowed.I_p_protocol == "all" else allowed.I_p_protocol
                if protocol not in PORTED_PROTOCOLS:
                    ports = [(protocol, None)]
                elif not allowed.ports:
                    ports = ports_between(protocol, None, None)
                else:
                    ports = []
                    for span in allowed.ports:
                        low, _, high = span.partition("-")
                        ports += ports_between(protocol, int(low), int(high or low))
                opened |= {(proto, port, source, target) for proto, port in ports for source in sources}
        return opened

    def tagged_resources(self, cluster):
        region = ZONE.rsplit("-", 1)[0]
        found = [f"instances/{instance.name}" for instance in self._instances(cluster)]
        for client, kind, request in (
            ("NetworksClient", "networks", {}),
            ("SubnetworksClient", "subnetworks", {"region": region}),
            ("FirewallsClient", "firewalls", {}),
        ):
            found += [f"{kind}/{resource.name}" for resource in self._owned(client, cluster, **request)]
        return found

    def fail_next(self, kind, times=1, after=0):
        self.fake.schedule([None] * after + [kind] * times)

    def keep_next_deletion(self):
        self.fake.kept_deletions += 1

    def interrupt_after(self, creates):
        self.fake.schedule([None] * creates + ["interrupt"])

    @contextlib.contextmanager
    def without_credentials(self):
        # No key file named, an empty gcloud configuration, and (see the fake)
        # no metadata server: every link of the chain comes up empty.
        with mock.patch.dict(os.environ):
            os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS")
            yield
