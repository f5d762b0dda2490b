"""A stateful fake of the Azure Resource Manager API, and the contract harness on it.

No emulator exists for Azure compute and network. azure-core's default
transport is `requests`, so a `responses` mock intercepts everything the real
SDKs send: the token request of DefaultAzureCredential's chain, every ARM
call, and the polling that long operations do from their own threads.

What the fake keeps, in dicts keyed by lower-cased ARM ID (ARM treats IDs
case-insensitively): resource groups, and under them any Microsoft.Network
or Microsoft.Compute resource. What it models, because the provider depends
on it:
- PUT answers 201/200 with Azure-AsyncOperation and Retry-After; the
  resource reads Creating/Updating until its operation is over, then
  Succeeded. DELETE answers 202 the same way (a resource group: with Location
  only), 204 when there is nothing to delete.
- Latency: an operation is over once it has been looked at POLLS times (a
  poll of its operation URL, or a read or list of its resource) AND its
  SECONDS have passed; every request takes REQUEST_SECONDS. Both are scaled by
  ``time_scale``, 0 in tests (so only the polls count), and Retry-After says
  ARM's usual RETRY_SECONDS, scaled alike (in whole seconds).
- A VM defines its NIC and public IP inside its networkProfile
  (networkApiVersion + networkInterfaceConfigurations, field names as the
  Compute REST API has them; an unknown member is refused as Compute does);
  the fake creates them, names them after their configurations, and lists
  their IDs in networkProfile.networkInterfaces.
- References must exist (NIC -> subnet, public IP, ASG; VM -> NIC; subnet ->
  NSG), and what is in use cannot be deleted (NIC of a VM, IP of a NIC,
  subnet with NICs, NSG on a subnet).
- A VM's deletion takes along its OS disk, NIC and the NIC's public IP
  where their deleteOption says Delete; a group's deletion takes everything.
- Lists page at PAGE_SIZE with nextLink; the generic resource and group
  lists take ARM's tagName/tagValue $filter.
- ARM's batch API (POST /batch, as the azure_rm inventory plugin reads) and
  a VM's instanceView.
"""

import contextlib
import dataclasses
import functools
import ipaddress
import itertools
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import responses
from requests.exceptions import ConnectionError as RequestsConnectionError

from tests.clouds.harness import EVERY_PROTOCOL, WORLD, CloudHarness, Interrupted, ports_between

ARM = "https://management.azure.com"
LOGIN = "https://login.microsoftonline.com"
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000f1"
CREDENTIALS = {
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000a1",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000000c1",
    "AZURE_CLIENT_SECRET": "fake-secret-for-the-fake-token-endpoint",
}
PAGE_SIZE = 50
# ARM's error code for deleting what another resource still uses, by type.
IN_USE = {
    "networkinterfaces": "NicInUse",
    "publicipaddresses": "PublicIPAddressCannotBeDeleted",
    "virtualnetworks": "InUseSubnetCannotBeDeleted",
    "networksecuritygroups": "InUseNetworkSecurityGroupCannotBeDeleted",
}
# How many polls of its operation a resource takes to be provisioned or
# deleted: VMs and groups take longer than the rest, as on Azure.
POLLS = {"microsoft.compute/virtualmachines": 2, "microsoft.resources/resourcegroups": 2}
# Seconds an operation takes on Azure, roughly (VMs and groups: a minute or two).
SECONDS = {"microsoft.compute/virtualmachines": 60, "microsoft.resources/resourcegroups": 90}
NETWORK_SECONDS = 5
REQUEST_SECONDS = 0.5
RETRY_SECONDS = 10
NETWORK_API_VERSIONS = ("2020-11-01", "2022-11-01")
# The members Compute knows in a VM's networkProfile, as the REST API (and the
# SDK's models, made from it) name them.
NETWORK_PROFILE_MEMBERS = {
    "networkProfile": {"networkInterfaces", "networkApiVersion", "networkInterfaceConfigurations"},
    "networkInterfaceConfiguration": {"name", "properties", "tags"},
    "networkInterfaceConfigurationProperties": {
        "primary",
        "deleteOption",
        "enableAcceleratedNetworking",
        "disableTcpStateTracking",
        "enableFpga",
        "enableIPForwarding",
        "networkSecurityGroup",
        "dnsSettings",
        "ipConfigurations",
        "dscpConfiguration",
        "auxiliaryMode",
        "auxiliarySku",
    },
    "ipConfiguration": {"name", "properties"},
    "ipConfigurationProperties": {
        "subnet",
        "primary",
        "publicIPAddressConfiguration",
        "privateIPAddressVersion",
        "applicationSecurityGroups",
        "applicationGatewayBackendAddressPools",
        "loadBalancerBackendAddressPools",
    },
    "publicIPAddressConfiguration": {"name", "properties", "sku", "tags"},
    "publicIPAddressConfigurationProperties": {
        "idleTimeoutInMinutes",
        "deleteOption",
        "dnsSettings",
        "ipTags",
        "publicIPPrefix",
        "publicIPAddressVersion",
        "publicIPAllocationMethod",
    },
}

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_GROUP = _SUB + r"/resourcegroups/(?P<group>[^/]+)"
_TYPE = r"/providers/(?P<ns>microsoft\.[a-z]+)/(?P<kind>[a-z]+)"
_TAG_FILTER = re.compile(r"^tagname eq '(?P<name>[^']*)'(?: and tagvalue eq '(?P<value>[^']*)')?$", re.I)

INJECTED = {
    # Compute's own throttling answer: 429, and a Retry-After that azure-core honours.
    "throttle": (
        429,
        {"Retry-After": "0", "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/PutVM3Min;0"},
        "OperationNotAllowed",
        "The server rejected the request because too many requests have been received for this subscription.",
    ),
    # No Retry-After: azure-core would retry any answer that carries one.
    "permission": (
        403,
        {},
        "AuthorizationFailed",
        "The client does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'.",
    ),
    "quota": (
        409,
        {},
        "OperationNotAllowed",
        "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. "
        "Current Limit: 4, Current Usage: 4, Additional Required: 2.",
    ),
}


# SecurityRuleProtocol, case and all; the protocols without ports take "*".
RULE_PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
PORTED_PROTOCOLS = ("Tcp", "Udp", "*")


def _check_rule_protocol(rule):
    properties = rule.get("properties", {})
    protocol = properties.get("protocol")
    if protocol not in RULE_PROTOCOLS:
        raise Failure(400, "InvalidRequestFormat", f"Value '{protocol}' of security rule {rule['name']} is not valid.")
    ports = properties.get("destinationPortRanges") or [properties.get("destinationPortRange")]
    if protocol not in PORTED_PROTOCOLS and ports != ["*"]:
        raise Failure(
            400,
            "SecurityRuleInvalidPortRange",
            f"Security rule {rule['name']} has protocol {protocol}, which takes no ports: its port range must be '*'.",
        )


# A rule's address and port fields come in pairs, one value or a list; ARM
# takes one of each pair, never both (the REST spec marks neither required:
# azure-rest-api-specs#1591). The exact error code for "both" is not
# documented; the status and the refusal are what matter here.
RULE_FIELD_PAIRS = (
    ("sourceAddressPrefix", "sourceAddressPrefixes"),
    ("destinationAddressPrefix", "destinationAddressPrefixes"),
    ("sourcePortRange", "sourcePortRanges"),
    ("destinationPortRange", "destinationPortRanges"),
)
ADDRESS_LISTS = ("sourceAddressPrefixes", "destinationAddressPrefixes")


def _check_rule_fields(rule):
    """ARM's refusals of a rule's address fields, as a real account sees them."""
    properties = rule.get("properties", {})
    for single, plural in RULE_FIELD_PAIRS:
        if properties.get(single) and properties.get(plural):
            raise Failure(
                400,
                "InvalidRequestFormat",
                f"Security rule {rule['name']} specifies both {single} and {plural}; specify one of them.",
            )
    for field in ADDRESS_LISTS:
        for value in properties.get(field) or []:
            # The lists take addresses and CIDR ranges only: '*', the default
            # tags (Internet, VirtualNetwork, ...) and service tags go in the
            # single-value field.
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise Failure(
                    400,
                    "SecurityRuleParameterContainsUnsupportedValue",
                    f"Security rule parameter {field[0].upper()}{field[1:]} for rule with Id {rule['id']} cannot "
                    f"specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. "
                    f"Unsupported value used: {value}.",
                ) from None


@dataclasses.dataclass
class _Request:
    """One request of a batch, shaped as the handlers read a request."""

    url: str
    body: str | None


class Failure(Exception):
    """An ARM error answer, raised inside a handler."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _not_found(code, what):
    return Failure(404, code, f"The {what} was not found.")


@dataclasses.dataclass
class Operation:
    polls: int
    ready_at: float
    finish: Callable[[], None]
    resource: str | None = None
    type_key: str | None = None
    done: bool = False


def _members(what, value, path):
    """Refuse a member Compute does not know, as it does (it would otherwise be lost silently)."""
    unknown = sorted(set(value) - NETWORK_PROFILE_MEMBERS[what])
    if unknown:
        raise Failure(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: Could not find member "
            f"'{unknown[0]}' on object of type '{what[0].upper()}{what[1:]}'. Path '{path}.{unknown[0]}'.",
        )


class FakeArm:
    def __init__(self, time_scale=0.0):
        self.time_scale = time_scale
        # Resource (lower-cased ID) -> the operation under way on it.
        self.under_way = {}
        # Per resource type, the most operations that were under way at once.
        self.most_under_way = {}
        self.lock = threading.RLock()
        self.groups = {}
        self.resources = {}
        self.operations = {}
        self.addresses = (f"20.50.{n // 250}.{n % 250 + 1}" for n in itertools.count())
        self.total_calls = 0
        self.mutating_calls = 0
        self.failed_calls = 0
        self.machine_creates = 0
        self.failures = []
        self.interrupt_at = None
        # How many VM deletions to answer as done without doing them.
        self.kept_deletions = 0

    # ---- wiring -------------------------------------------------------------------------------------------------

    def register(self, mock):
        token = re.compile(re.escape(LOGIN) + r"/[^/]+/oauth2/v2\.0/token$")
        mock.add_callback(
            "GET",
            re.compile(re.escape(LOGIN) + r"/[^/]+/v2\.0/\.well-known/openid-configuration$"),
            callback=self._counted(self._openid_configuration, mutating=False),
        )
        mock.add_callback("POST", token, callback=self._counted(self._token, mutating=False))
        # Managed identity's probe: on a developer machine nothing answers there.
        mock.add(
            responses.GET,
            re.compile(r"http://169\.254\.169\.254/.*"),
            body=RequestsConnectionError("no instance metadata service here"),
        )
        routes = [
            ("GET", _SUB + r"/providers/fake\.operations/operations/(?P<op>[^/]+)", self.get_operation),
            ("GET", _SUB + r"/providers/fake\.operations/operationresults/(?P<op>[^/]+)", self.get_operation_result),
            ("GET", _SUB + r"/resourcegroups", self.list_groups),
            ("GET", _SUB + r"/resources", self.list_tagged),
            ("GET", _SUB + _TYPE, self.list_resources),
            ("PUT", _GROUP, self.put_group),
            ("GET", _GROUP, self.get_group),
            ("DELETE", _GROUP, self.delete_group),
            ("GET", _GROUP + _TYPE, self.list_resources),
            ("PUT", _GROUP + _TYPE + r"/(?P<name>[^/]+)", self.put_resource),
            ("GET", _GROUP + _TYPE + r"/(?P<name>[^/]+)", self.get_resource),
            ("GET", _GROUP + _TYPE + r"/(?P<name>[^/]+)/instanceView", self.get_instance_view),
            ("DELETE", _GROUP + _TYPE + r"/(?P<name>[^/]+)", self.delete_resource),
        ]
        self.routes = [(method, re.compile(path + "$", re.I), handler) for method, path, handler in routes]
        for method, pattern, handler in self.routes:
            url = re.compile(re.escape(ARM) + pattern.pattern[:-1] + r"(\?.*)?$", re.I)
            mock.add_callback(
                method, url, callback=self._counted(self._arm(pattern, handler), mutating=method != "GET")
            )
        # ARM's batch API, through which the azure_rm inventory plugin reads.
        batch = re.compile(re.escape(ARM) + r"/batch(\?.*)?$", re.I)
        mock.add_callback("POST", batch, callback=self._counted(self._batch, mutating=False))

    def _batch(self, request):
        """Answer each GET of a batch as ARM would have answered it alone."""
        answers = []
        for item in json.loads(request.body)["requests"]:
            path = urlsplit(item["url"]).path
            route = next(
                ((p, h) for m, p, h in self.routes if m == item["httpMethod"].upper() and p.match(path)),
                None,
            )
            if route is None:
                answers.append({"name": item["name"], "httpStatusCode": 404, "content": {}})
                continue
            status, headers, content = self._arm(*route)(_Request(item["url"], None))
            answers.append({"name": item["name"], "httpStatusCode": status, "content": json.loads(content or "{}")})
        return 200, {"Content-Type": "application/json"}, json.dumps({"responses": answers})

    def _counted(self, handler, mutating):
        def callback(request):
            # Outside the lock: requests sent side by side take their time side by side.
            time.sleep(REQUEST_SECONDS * self.time_scale)
            with self.lock:
                self.total_calls += 1
                self.mutating_calls += mutating
                return handler(request)

        return callback

    def _arm(self, pattern, handler):
        def serve(request):
            url = urlsplit(request.url)
            query = {k.lower(): v[0] for k, v in parse_qs(url.query).items()}
            body = json.loads(request.body) if request.body else None
            try:
                status, payload, headers = handler(request.url, query, body, **pattern.match(url.path).groupdict())
            except Failure as failure:
                status, headers = failure.status, failure.headers
                payload = {"error": {"code": failure.code, "message": failure.message}}
            content = "" if payload is None else json.dumps(payload)
            return status, {"Content-Type": "application/json", **headers}, content

        return serve

    def _openid_configuration(self, request):
        tenant = f"{LOGIN}/{urlsplit(request.url).path.split('/')[1]}"
        document = {
            "issuer": f"{tenant}/v2.0",
            "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{tenant}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{tenant}/oauth2/v2.0/devicecode",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(document)

    def _token(self, request):
        token = {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": "fake-token"}
        return 200, {"Content-Type": "application/json"}, json.dumps(token)

    # ---- long operations ----------------------------------------------------------------------------------------

    def _begin(self, sub, type_key, finish, resource):
        """Start a long operation on ``resource`` (a lower-cased ID); ``finish`` runs when it is over."""
        op = uuid.uuid4().hex
        seconds = SECONDS.get(type_key, NETWORK_SECONDS) * self.time_scale
        self.operations[op] = Operation(POLLS.get(type_key, 1), time.monotonic() + seconds, finish, resource, type_key)
        self.under_way[resource] = op
        alike = sum(self.operations[other].type_key == type_key for other in self.under_way.values())
        self.most_under_way[type_key] = max(self.most_under_way.get(type_key, 0), alike)
        return f"{ARM}/subscriptions/{sub}/providers/Fake.Operations/operations/{op}"

    def _retry_after(self):
        # Whole seconds, as ARM sends them and the SDKs read them: scaled down
        # it is 0, and the client's own polling_interval paces the polls.
        return {"Retry-After": str(int(RETRY_SECONDS * self.time_scale))}

    def _advance(self, op):
        operation = self.operations.get(op)
        if operation is None:
            raise _not_found("OperationNotFound", f"operation {op}")
        if not operation.done:
            operation.polls -= 1
            if operation.polls <= 0 and time.monotonic() >= operation.ready_at:
                operation.done = True
                if self.under_way.get(operation.resource) == op:
                    del self.under_way[operation.resource]
                operation.finish()
        return operation.done

    def _look_at(self, resource_id):
        """A read of a resource counts as a poll of the operation under way on it."""
        op = self.under_way.get(resource_id.lower())
        if op is not None:
            self._advance(op)

    def get_operation(self, url, query, body, sub, op):
        status = "Succeeded" if self._advance(op) else "InProgress"
        return 200, {"status": status}, self._retry_after()

    def get_operation_result(self, url, query, body, sub, op):
        if self._advance(op):
            return 200, None, {}
        return 202, None, {"Location": url, **self._retry_after()}

    # ---- resource groups ----------------------------------------------------------------------------------------

    def _group(self, sub, name):
        self._look_at(f"/subscriptions/{sub}/resourcegroups/{name}")
        group = self.groups.get(name.lower())
        if group is None:
            raise Failure(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return group

    def put_group(self, url, query, body, sub, group):
        existing = self.groups.get(group.lower())
        if existing and existing["properties"]["provisioningState"] == "Deleting":
            raise Failure(409, "ResourceGroupBeingDeleted", f"The resource group '{group}' is in deprovisioning state.")
        self.groups[group.lower()] = {
            "id": f"/subscriptions/{sub}/resourceGroups/{group}",
            "name": group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": {"provisioningState": "Succeeded"},
        }
        return (200 if existing else 201), self.groups[group.lower()], {}

    def get_group(self, url, query, body, sub, group):
        return 200, self._group(sub, group), {}

    def delete_group(self, url, query, body, sub, group):
        record = self._group(sub, group)
        record["properties"]["provisioningState"] = "Deleting"
        prefix = record["id"].lower() + "/"

        def finish():
            self.groups.pop(group.lower(), None)
            for key in [key for key in self.resources if key.startswith(prefix)]:
                del self.resources[key]

        operation = self._begin(sub, "microsoft.resources/resourcegroups", finish, record["id"].lower())
        result = operation.replace("/operations/", "/operationResults/")
        return 202, None, {"Location": result, **self._retry_after()}

    def list_groups(self, url, query, body, sub):
        return self._page(url, query, [g for g in self.groups.values() if self._tag_match(g, query)])

    def list_tagged(self, url, query, body, sub):
        generic = [
            {k: r[k] for k in ("id", "name", "type", "location", "tags")}
            for r in self.resources.values()
            if self._tag_match(r, query)
        ]
        return self._page(url, query, generic)

    def _tag_match(self, resource, query):
        if "$filter" not in query:
            return True
        match = _TAG_FILTER.match(query["$filter"])
        if not match:
            raise Failure(400, "InvalidFilterInQueryString", f"The filter '{query['$filter']}' is not supported.")
        tags = {k.lower(): v for k, v in (resource.get("tags") or {}).items()}
        name, value = match["name"].lower(), match["value"]
        return name in tags and (value is None or tags[name] == value)

    def _page(self, url, query, items):
        start = int(query.get("$skiptoken", 0))
        page = {"value": items[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            parts = urlsplit(url)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            params["$skiptoken"] = str(start + PAGE_SIZE)
            page["nextLink"] = f"{ARM}{parts.path}?{urlencode(params)}"
        return 200, page, {}

    # ---- resources ----------------------------------------------------------------------------------------------

    def _find(self, resource_id, what="resource"):
        resource = self.resources.get(resource_id.lower())
        if resource is None:
            raise Failure(400, "InvalidResourceReference", f"The {what} {resource_id} referenced does not exist.")
        return resource

    def _subnet(self, subnet_id):
        vnet_id, _, name = subnet_id.partition("/subnets/")
        vnet = self._find(vnet_id, "virtual network")
        for subnet in vnet["properties"].get("subnets", []):
            if subnet["name"].lower() == name.lower():
                return subnet
        raise Failure(400, "InvalidResourceReference", f"The subnet {subnet_id} referenced does not exist.")

    def list_resources(self, url, query, body, sub, ns, kind, group=None):
        if group is not None:
            self._group(sub, group)
        kind_id = f"/providers/{ns}/{kind}/".lower()
        scope = f"/subscriptions/{sub}/resourcegroups/{group}/".lower() if group else ""
        keys = [key for key in self.resources if kind_id in key and key.startswith(scope) and key.count("/") == 8]
        for key in keys:
            self._look_at(key)
        items = [self._view(self.resources[key], query) for key in keys if key in self.resources]
        return self._page(url, query, items)

    def get_resource(self, url, query, body, sub, group, ns, kind, name):
        self._group(sub, group)
        key = self._id(sub, group, ns, kind, name).lower()
        self._look_at(key)
        resource = self.resources.get(key)
        if resource is None:
            raise _not_found("ResourceNotFound", f"resource {ns}/{kind}/{name}")
        return 200, self._view(resource, query), {}

    def get_instance_view(self, url, query, body, sub, group, ns, kind, name):
        resource = self.get_resource(url, {"$expand": "instanceView"}, body, sub, group, ns, kind, name)[1]
        view = resource["properties"].get("instanceView")
        if view is None:
            raise _not_found("ResourceNotFound", f"instance view of {ns}/{kind}/{name}")
        computer = resource["properties"].get("osProfile", {}).get("computerName")
        return 200, {**view, "computerName": computer, "osName": "debian", "osVersion": "12"}, {}

    def _view(self, resource, query):
        """A VM as listed or read with $expand=instanceView carries its power state."""
        if query.get("$expand", "").lower() != "instanceview" or "/virtualmachines/" not in resource["id"].lower():
            return resource
        state = resource["properties"]["provisioningState"]
        power = "running" if state == "Succeeded" else "starting"
        statuses = [{"code": f"ProvisioningState/{state.lower()}"}, {"code": f"PowerState/{power}"}]
        return {**resource, "properties": {**resource["properties"], "instanceView": {"statuses": statuses}}}

    @staticmethod
    def _id(sub, group, ns, kind, name):
        return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{ns}/{kind}/{name}"

    def put_resource(self, url, query, body, sub, group, ns, kind, name):
        self._group(sub, group)
        resource_id = self._id(sub, group, ns, kind, name)
        key = resource_id.lower()
        type_key = f"{ns}/{kind}".lower()
        existing = self.resources.get(key)
        if type_key == "microsoft.compute/virtualmachines":
            self._machine_creating_call(existing)
        if not body.get("location"):
            raise Failure(400, "LocationRequired", "The location property is required for this definition.")
        resource = {
            "id": resource_id,
            "name": name,
            "type": f"{ns}/{kind}",
            "location": body["location"],
            "tags": body.get("tags") or {},
            "properties": body.get("properties") or {},
            **({"sku": body["sku"]} if "sku" in body else {}),
        }
        prepare = getattr(self, f"_prepare_{kind.lower()}", None)
        if prepare:
            prepare(resource, existing)
        resource["properties"]["provisioningState"] = "Updating" if existing else "Creating"
        self.resources[key] = resource

        def finish():
            if key in self.resources:
                self.resources[key]["properties"]["provisioningState"] = "Succeeded"

        operation = self._begin(sub, type_key, finish, key)
        return (200 if existing else 201), resource, {"Azure-AsyncOperation": operation, **self._retry_after()}

    def _machine_creating_call(self, existing):
        """Where injected failures and interruptions strike: the PUT of a VM."""
        if self.failures:
            plan = self.failures[0]
            if plan["after"] > 0:
                plan["after"] -= 1
            else:
                plan["times"] -= 1
                if plan["times"] == 0:
                    self.failures.pop(0)
                self.failed_calls += 1
                status, headers, code, message = INJECTED[plan["kind"]]
                raise Failure(status, code, message, headers)
        if existing is None:
            if self.interrupt_at is not None and self.machine_creates == self.interrupt_at:
                self.interrupt_at = None
                raise Interrupted()
            self.machine_creates += 1

    def _prepare_virtualnetworks(self, vnet, existing):
        for subnet in vnet["properties"].get("subnets", []):
            subnet["id"] = f"{vnet['id']}/subnets/{subnet['name']}"
            subnet.setdefault("properties", {})["provisioningState"] = "Succeeded"
        self._check_references(vnet)

    def _prepare_networksecuritygroups(self, nsg, existing):
        for rule in nsg["properties"].get("securityRules", []):
            rule["id"] = f"{nsg['id']}/securityRules/{rule['name']}"
            _check_rule_protocol(rule)
            _check_rule_fields(rule)
        self._check_references(nsg)

    def _prepare_publicipaddresses(self, address, existing):
        previous = (existing or {}).get("properties", {})
        address["properties"]["ipAddress"] = previous.get("ipAddress") or next(self.addresses)

    def _prepare_networkinterfaces(self, nic, existing):
        previous = {c["name"]: c for c in (existing or {}).get("properties", {}).get("ipConfigurations", [])}
        for config in nic["properties"].get("ipConfigurations", []):
            config["id"] = f"{nic['id']}/ipConfigurations/{config['name']}"
            props = config.setdefault("properties", {})
            subnet = self._subnet(props["subnet"]["id"])
            old = previous.get(config["name"], {}).get("properties", {})
            props["privateIPAddress"] = old.get("privateIPAddress") or self._free_address(subnet)
        self._check_references(nic)
        for address_id in self._references(nic, "publicipaddresses"):
            self._claim(address_id, nic, "PublicIPAddressInUse")

    def _claim(self, resource_id, claimant, code):
        """Refuse a second holder of what only one may hold (a public IP, a NIC)."""
        for holder in self._referrers(resource_id):
            if holder["id"].lower() != claimant["id"].lower():
                raise Failure(400, code, f"{resource_id} is in use by {holder['id']}.")

    def _free_address(self, subnet):
        used = {
            config["properties"].get("privateIPAddress")
            for r in self.resources.values()
            if r["type"].lower() == "microsoft.network/networkinterfaces"
            for config in r["properties"].get("ipConfigurations", [])
        }
        # Azure keeps the first four addresses of every subnet for itself.
        hosts = itertools.islice(ipaddress.ip_network(subnet["properties"]["addressPrefix"]).hosts(), 3, None)
        return next(str(ip) for ip in hosts if str(ip) not in used)

    def _prepare_virtualmachines(self, vm, existing):
        props = vm["properties"]
        os_disk = props["storageProfile"]["osDisk"]
        disk_id = vm["id"].rsplit("/providers/", 1)[0] + f"/providers/Microsoft.Compute/disks/{os_disk['name']}"
        os_disk["managedDisk"] = {**os_disk.get("managedDisk", {}), "id": disk_id}
        self._check_references(vm, but=disk_id)
        for nic_id in self._references(vm, "networkinterfaces"):
            self._claim(nic_id, vm, "NicInUse")
        self._define_network(vm, existing)
        # Azure gives a VM's OS disk none of the VM's tags.
        self.resources[disk_id.lower()] = {
            "id": disk_id,
            "name": os_disk["name"],
            "type": "Microsoft.Compute/disks",
            "location": vm["location"],
            "tags": {},
            "managedBy": vm["id"],
            "properties": {"diskState": "Attached", "provisioningState": "Succeeded"},
        }
        props["vmId"] = (existing or {}).get("properties", {}).get("vmId") or str(uuid.uuid4())

    def _define_network(self, vm, existing):
        """Create the NICs and public IPs that a VM's networkInterfaceConfigurations define.

        Everything is checked before anything is made, so that a refusal leaves
        nothing behind; a second PUT of the VM keeps what the first made.
        """
        profile = vm["properties"].get("networkProfile", {})
        base = "properties.networkProfile"
        _members("networkProfile", profile, base)
        configs = profile.get("networkInterfaceConfigurations")
        if not configs:
            return
        if profile.get("networkApiVersion") not in NETWORK_API_VERSIONS:
            raise Failure(
                400,
                "InvalidParameter",
                f"networkApiVersion must be one of {', '.join(NETWORK_API_VERSIONS)} when "
                f"networkInterfaceConfigurations are given, not {profile.get('networkApiVersion')!r}.",
            )
        for i, config in enumerate(configs):
            path = f"{base}.networkInterfaceConfigurations[{i}]"
            _members("networkInterfaceConfiguration", config, path)
            _members("networkInterfaceConfigurationProperties", config.get("properties", {}), f"{path}.properties")
            for j, ip_config in enumerate(config.get("properties", {}).get("ipConfigurations", [])):
                ip_path = f"{path}.properties.ipConfigurations[{j}]"
                _members("ipConfiguration", ip_config, ip_path)
                ip_props = ip_config.get("properties", {})
                _members("ipConfigurationProperties", ip_props, f"{ip_path}.properties")
                public = ip_props.get("publicIPAddressConfiguration")
                if public:
                    public_path = f"{ip_path}.properties.publicIPAddressConfiguration"
                    _members("publicIPAddressConfiguration", public, public_path)
                    _members("publicIPAddressConfigurationProperties", public.get("properties", {}), public_path)
        if existing:
            profile["networkInterfaces"] = existing["properties"]["networkProfile"]["networkInterfaces"]
            return
        group_id = vm["id"].rsplit("/providers/", 1)[0]
        references = []
        for config in configs:
            props = config.get("properties", {})
            ip_configs = []
            for ip_config in props.get("ipConfigurations", []):
                ip_props = ip_config.get("properties", {})
                made = {
                    "name": ip_config["name"],
                    "properties": {
                        key: ip_props[key]
                        for key in ("subnet", "primary", "applicationSecurityGroups")
                        if ip_props.get(key) is not None
                    },
                }
                public = ip_props.get("publicIPAddressConfiguration")
                if public:
                    public_props = public.get("properties", {})
                    address_id = f"{group_id}/providers/Microsoft.Network/publicIPAddresses/{public['name']}"
                    self.resources[address_id.lower()] = {
                        "id": address_id,
                        "name": public["name"],
                        "type": "Microsoft.Network/publicIPAddresses",
                        "location": vm["location"],
                        "tags": public.get("tags") or {},
                        **({"sku": public["sku"]} if "sku" in public else {}),
                        "properties": {
                            "publicIPAllocationMethod": public_props.get("publicIPAllocationMethod", "Dynamic"),
                            "ipAddress": next(self.addresses),
                            "provisioningState": "Succeeded",
                        },
                    }
                    made["properties"]["publicIPAddress"] = {
                        "id": address_id,
                        "properties": {"deleteOption": public_props.get("deleteOption", "Detach")},
                    }
                ip_configs.append(made)
            nic_id = f"{group_id}/providers/Microsoft.Network/networkInterfaces/{config['name']}"
            nic = {
                "id": nic_id,
                "name": config["name"],
                "type": "Microsoft.Network/networkInterfaces",
                "location": vm["location"],
                "tags": config.get("tags") or {},
                "properties": {"ipConfigurations": ip_configs},
            }
            self._prepare_networkinterfaces(nic, None)
            nic["properties"]["provisioningState"] = "Succeeded"
            self.resources[nic_id.lower()] = nic
            references.append(
                {
                    "id": nic_id,
                    "properties": {
                        "primary": props.get("primary"),
                        "deleteOption": props.get("deleteOption", "Detach"),
                    },
                }
            )
        profile["networkInterfaces"] = references

    # ---- references between resources --------------------------------------------------------------------------

    @staticmethod
    def _references(resource, kind=None):
        """IDs this resource depends on (a NIC: its subnet, public IP, ASGs), found wherever they sit."""
        found = re.findall(r'"id": "(/subscriptions/[^"]+)"', json.dumps(resource["properties"]))
        own = resource["id"].lower() + "/"
        return [i for i in found if not i.lower().startswith(own) and (kind is None or f"/{kind}/" in i.lower())]

    def _check_references(self, resource, but=None):
        for ref in self._references(resource):
            if ref.lower() == (but or "").lower():
                continue
            if "/subnets/" in ref.lower():
                self._subnet(ref)
            else:
                self._find(ref)

    def _referrers(self, resource_id):
        """Resources that depend on this one, or on a part of it (a VNet's subnet)."""
        target = resource_id.lower()
        return [
            r
            for r in self.resources.values()
            if any(ref.lower() == target or ref.lower().startswith(target + "/") for ref in self._references(r))
        ]

    def delete_resource(self, url, query, body, sub, group, ns, kind, name):
        self._group(sub, group)
        key = self._id(sub, group, ns, kind, name).lower()
        resource = self.resources.get(key)
        if resource is None:
            return 204, None, {}
        holders = self._referrers(resource["id"])
        if holders:
            code = IN_USE.get(kind.lower(), "InUseResourceCannotBeDeleted")
            raise Failure(400, code, f"{resource['id']} cannot be deleted: {holders[0]['id']} uses it.")
        finish = functools.partial(self._remove, key)
        if kind.lower() == "virtualmachines" and self.kept_deletions:
            self.kept_deletions -= 1
            state = resource["properties"]["provisioningState"]
            finish = functools.partial(resource["properties"].__setitem__, "provisioningState", state)
        resource["properties"]["provisioningState"] = "Deleting"
        operation = self._begin(sub, f"{ns}/{kind}".lower(), finish, key)
        result = operation.replace("/operations/", "/operationResults/")
        return 202, None, {"Azure-AsyncOperation": operation, "Location": result, **self._retry_after()}

    def _remove(self, key):
        """Delete a resource, and what a VM's deleteOptions say goes with it."""
        resource = self.resources.pop(key, None)
        if resource is None or resource["type"].lower() != "microsoft.compute/virtualmachines":
            return
        props = resource["properties"]
        os_disk = props["storageProfile"]["osDisk"]
        disk = self.resources[os_disk["managedDisk"]["id"].lower()]
        if os_disk.get("deleteOption") == "Delete":
            del self.resources[disk["id"].lower()]
        else:
            disk.pop("managedBy")
            disk["properties"]["diskState"] = "Unattached"
        for ref in props["networkProfile"]["networkInterfaces"]:
            if ref.get("properties", {}).get("deleteOption") != "Delete":
                continue
            nic = self.resources.pop(ref["id"].lower(), None)
            for config in (nic or {}).get("properties", {}).get("ipConfigurations", []):
                address = config["properties"].get("publicIPAddress")
                if address and address.get("properties", {}).get("deleteOption") == "Delete":
                    self.resources.pop(address["id"].lower(), None)


class Harness(CloudHarness):
    provider = "azure"

    def __init__(self, time_scale=0.0):
        self.fake = FakeArm(time_scale)
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._saved_environment = {}

    def __enter__(self):
        self.fake.register(self.mock)
        self.mock.start()
        for name, value in CREDENTIALS.items():
            self._saved_environment[name] = os.environ.get(name)
            os.environ[name] = value
        return self

    def __exit__(self, *exc):
        self.mock.stop()
        self.mock.reset()
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    # The harness reads through the SDKs' own list APIs, as a user would.

    @functools.cached_property
    def _clients(self):
        from azure.identity import ClientSecretCredential
        from azure.mgmt.compute import ComputeManagementClient
        from azure.mgmt.network import NetworkManagementClient
        from azure.mgmt.resource.resources import ResourceManagementClient

        # Its own credential, so that without_credentials() blinds only the provider.
        credential = ClientSecretCredential(
            CREDENTIALS["AZURE_TENANT_ID"], CREDENTIALS["AZURE_CLIENT_ID"], CREDENTIALS["AZURE_CLIENT_SECRET"]
        )
        return (
            ResourceManagementClient(credential, SUBSCRIPTION),
            NetworkManagementClient(credential, SUBSCRIPTION),
            ComputeManagementClient(credential, SUBSCRIPTION),
        )

    def options(self):
        return {"subscription_id": SUBSCRIPTION, "ssh_cidr": "203.0.113.0/24", "polling_interval": 0}

    @staticmethod
    def _filter(cluster):
        return f"tagName eq 'flotilla-cluster' and tagValue eq '{cluster}'"

    @staticmethod
    def _ours(resource, cluster):
        return (resource.tags or {}).get("flotilla-cluster") == cluster

    def machines(self, cluster):
        _, network, compute = self._clients
        nics = {n.id.lower(): n for n in network.network_interfaces.list_all()}
        addresses = {a.id.lower(): a.ip_address for a in network.public_ip_addresses.list_all()}
        machines = []
        for vm in compute.virtual_machines.list_all(expand="instanceView"):
            if not self._ours(vm, cluster):
                continue
            power = [s.code.split("/")[1] for s in vm.instance_view.statuses if s.code.startswith("PowerState/")]
            config = nics[vm.network_profile.network_interfaces[0].id.lower()].ip_configurations[0]
            machines.append(
                {
                    "name": vm.name,
                    "state": power[0] if vm.provisioning_state == "Succeeded" else vm.provisioning_state.lower(),
                    "tags": dict(vm.tags),
                    "address": addresses[config.public_ip_address.id.lower()],
                }
            )
        return sorted(machines, key=lambda m: m["name"])

    def networks(self, cluster):
        _, network, _ = self._clients
        return [v.name for v in network.virtual_networks.list_all() if self._ours(v, cluster)]

    def openings(self, cluster):
        """Only the NSG's Allow rules: Azure's default rules (AllowVnetInBound,
        AllowAzureLoadBalancerInBound, DenyAllInBound) are the same in every
        NSG, and let nothing in from the Internet."""
        _, network, compute = self._clients
        machines = self.machines(cluster)
        vm_of_nic = {}
        for vm in compute.virtual_machines.list_all():
            if self._ours(vm, cluster):
                vm_of_nic.update({nic.id.lower(): vm.name for nic in vm.network_profile.network_interfaces})
        in_asg = {}  # application security group -> the names of the machines in it
        subnet_nsg = {}  # the machines' subnets -> the NSG on each
        for nic in network.network_interfaces.list_all():
            if nic.id.lower() not in vm_of_nic:
                continue
            for config in nic.ip_configurations:
                subnet_nsg[config.subnet.id.lower()] = None
                for asg in config.application_security_groups or []:
                    in_asg.setdefault(asg.id.lower(), set()).add(vm_of_nic[nic.id.lower()])
        vnet_ranges = set()
        for vnet in network.virtual_networks.list_all():
            for subnet in vnet.subnets or []:
                if subnet.id.lower() in subnet_nsg:
                    vnet_ranges |= set(vnet.address_space.address_prefixes)
                    subnet_nsg[subnet.id.lower()] = subnet.network_security_group
        nsg_ids = {nsg.id.lower() for nsg in subnet_nsg.values() if nsg is not None}
        everyone = self.who(machines, {m["name"] for m in machines})
        opened = set()
        for nsg in network.network_security_groups.list_all():
            if nsg.id.lower() not in nsg_ids:
                continue
            for rule in nsg.security_rules or []:
                if (rule.direction, rule.access) != ("Inbound", "Allow"):
                    continue
                asgs = rule.destination_application_security_groups or []
                if asgs:
                    target = self.who(machines, set().union(*(in_asg.get(a.id.lower(), set()) for a in asgs)))
                else:
                    target = everyone
                sources = []
                for source in rule.source_address_prefixes or [rule.source_address_prefix]:
                    if source in ("*", "Internet", "0.0.0.0/0"):
                        sources.append(WORLD)
                    elif source in vnet_ranges or source == "VirtualNetwork":
                        # The VNet holds the cluster's machines and nothing else.
                        sources.append(everyone)
                    else:
                        sources.append(source)
                asg_sources = rule.source_application_security_groups or []
                sources += [self.who(machines, in_asg.get(a.id.lower(), ())) for a in asg_sources]
                protocol = EVERY_PROTOCOL if rule.protocol == "*" else rule.protocol.lower()
                ports = []
                for span in rule.destination_port_ranges or [rule.destination_port_range]:
                    if protocol not in ("tcp", "udp", EVERY_PROTOCOL):
                        ports.append((protocol, None))
                    elif span == "*":
                        ports += ports_between(protocol, None, None)
                    else:
                        low, _, high = span.partition("-")
                        ports += ports_between(protocol, int(low), int(high or low))
                opened |= {(proto, port, source, target) for proto, port in ports for source in sources}
        return opened

    def tagged_resources(self, cluster):
        resources, _, _ = self._clients
        tagged = [r.id for r in resources.resources.list(filter=self._filter(cluster))]
        return tagged + [g.id for g in resources.resource_groups.list(filter=self._filter(cluster))]

    def fail_next(self, kind, times=1, after=0):
        with self.fake.lock:
            self.fake.failures.append({"kind": kind, "times": times, "after": after})

    def keep_next_deletion(self):
        with self.fake.lock:
            self.fake.kept_deletions += 1

    def interrupt_after(self, creates):
        with self.fake.lock:
            self.fake.interrupt_at = self.fake.machine_creates + creates

    @contextlib.contextmanager
    def without_credentials(self):
        saved = {name: os.environ.pop(name, None) for name in CREDENTIALS}
        try:
            yield
        finally:
            os.environ.update({name: value for name, value in saved.items() if value is not None})
