"""The AWS fake: moto in-process, with a gate in front of it for what moto does not play.

moto answers every botocore request from a `before-send` handler that
botocore registers on each new session (its BUILTIN_HANDLERS). The harness
puts its own handler in that slot: it counts requests, answers injected
failures itself (so botocore's real retry logic sees them), and hands the
rest to moto. moto has no `pending` phase either, so the gate adds one: the
first DescribeInstances answer that covers a launch says `pending` for the
machines of that launch, later ones say `running`; until the provider has
been told `running` for a machine, this harness's own view says `pending`
too, so a provider that returns without waiting is caught.

The gate also enforces what moto lets pass: an instance type launched in a
zone that does not offer it is refused as EC2 refuses it, and a subnet
created without a zone lands where AWS may put it, here the zone that offers
the fewest types. Switched on, it plays EC2's eventual consistency: the first
request naming a new resource's id answers NotFound, a filtered
DescribeInstances leaves out instances no request has named yet, and after a
termination the VPC's parts stay in use for some more calls.

The harness's own client is made before the gate is in place, so its
questions are neither counted nor rewritten.
"""

import contextlib
import datetime
import io
import os
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto import mock_aws, settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.models import botocore_stubber
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from urllib3.response import HTTPResponse

from provisioners.providers import aws
from provisioners.providers.aws import consistency
from tests.clouds.harness import EVERY_PROTOCOL, WORLD, CloudHarness, Interrupted, ports_between

# As strict as moto can be: unknown images, key pairs and instance types are
# refused as EC2 refuses them. moto reads these switches from the environment
# once, when it is first imported, which may have happened already (pytest
# imports test modules in any order); its code reads them at each call, in
# process and in ThreadedMotoServer alike, so they are set on its settings.
settings.ENABLE_AMI_VALIDATION = True
settings.ENABLE_KEYPAIR_VALIDATION = True
settings.EC2_ENABLE_INSTANCE_TYPE_VALIDATION = True

REGION = "us-east-1"
SSH_CIDR = "203.0.113.0/24"
POLL_SECONDS = 0.05
# Oldest first: the provider must pick the newest.
DEBIAN_IMAGES = {
    "ami-0deb120000000001a": datetime.datetime(2024, 6, 10, tzinfo=datetime.UTC),
    "ami-0deb120000000002b": datetime.datetime(2025, 3, 2, tzinfo=datetime.UTC),
}
NEWEST_DEBIAN = "ami-0deb120000000002b"
MUTATING = (
    "Create",
    "Delete",
    "Run",
    "Terminate",
    "Authorize",
    "Revoke",
    "Attach",
    "Detach",
    "Associate",
    "Disassociate",
    "Import",
    "Modify",
    "Replace",
)
# What EC2 answers for an id it does not know (yet), by the id's prefix.
NOT_FOUND = {
    "vpc-": ("InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    "subnet-": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "igw-": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist"),
    "rtb-": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    "i-": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
}
# Where each create call answers its new resource's id.
CREATED_IDS = {
    "CreateVpc": lambda parsed: [parsed["Vpc"]["VpcId"]],
    "CreateSubnet": lambda parsed: [parsed["Subnet"]["SubnetId"]],
    "CreateInternetGateway": lambda parsed: [parsed["InternetGateway"]["InternetGatewayId"]],
    "CreateRouteTable": lambda parsed: [parsed["RouteTable"]["RouteTableId"]],
    "CreateSecurityGroup": lambda parsed: [parsed["GroupId"]],
    "RunInstances": lambda parsed: [instance["InstanceId"] for instance in parsed.get("Instances", [])],
}
# What a VPC's parts answer while a terminated instance's interface still holds them.
HELD = ("DeleteSecurityGroup", "DeleteSubnet", "DetachInternetGateway", "DeleteVpc")
FAILURES = {
    "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "permission": (403, "UnauthorizedOperation", "You are not authorized to perform this operation."),
    "protocol": (400, "InvalidParameterValue", "Invalid value for IP protocol. Unknown protocol."),
    "quota": (
        400,
        "VcpuLimitExceeded",
        "You have requested more vCPU capacity than your current vCPU limit of 32 allows "
        "for the instance bucket that the specified instance type belongs to.",
    ),
}
# Everything botocore's credential chain (and endpoint choice) reads from the environment.
AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
)
KINDS = {
    "vpc": ("describe_vpcs", "Vpcs", "VpcId"),
    "subnet": ("describe_subnets", "Subnets", "SubnetId"),
    "internet-gateway": ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    "route-table": ("describe_route_tables", "RouteTables", "RouteTableId"),
    "security-group": ("describe_security_groups", "SecurityGroups", "GroupId"),
    "key-pair": ("describe_key_pairs", "KeyPairs", "KeyPairId"),
    "volume": ("describe_volumes", "Volumes", "VolumeId"),
    "network-interface": ("describe_network_interfaces", "NetworkInterfaces", "NetworkInterfaceId"),
}


def seed_debian_images(region=REGION):
    """Publish Debian 12 images under Debian's owner id: moto ships none."""
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    for image_id, created in DEBIAN_IMAGES.items():
        backend.amis[image_id] = Ami(
            backend,
            image_id,
            name=f"debian-12-amd64-{created:%Y%m%d}-1700",
            owner_id=aws.DEBIAN_OWNER,
            architecture="x86_64",
            virtualization_type="hvm",
            root_device_type="ebs",
            public=True,
            creation_date=created,
        )


def zone_offerings(region):
    """Zone -> the instance types it offers, from moto's copy of EC2's offerings."""
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    zones = {}
    for offering in backend.describe_instance_type_offerings(location_type="availability-zone"):
        zones.setdefault(offering["Location"], set()).add(offering["InstanceType"])
    return zones


def fewest_types_zone(region):
    offerings = zone_offerings(region)
    return min(offerings, key=lambda zone: len(offerings[zone]))


def unsupported_zone(params):
    """EC2's message when a launch's type is not offered in its subnet's zone, or None."""
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
    subnet_id = params.get("NetworkInterface.1.SubnetId") or params.get("SubnetId")
    if not subnet_id:
        return None
    subnet = next((s for zone in backend.subnets.values() for s in zone.values() if s.id == subnet_id), None)
    if subnet is None:
        return None  # moto answers for a subnet it does not have
    kind = params.get("InstanceType", "m1.small")
    offerings = zone_offerings(REGION)
    if kind in offerings.get(subnet.availability_zone, set()):
        return None
    offered = ", ".join(sorted(zone for zone, kinds in offerings.items() if kind in kinds))
    return (
        f"Your requested instance type ({kind}) is not supported in your requested Availability Zone "
        f"({subnet.availability_zone}). Please retry your request by not specifying an Availability Zone "
        f"or choosing {offered}."
    )


def tag_filter(cluster):
    return [{"Name": "tag:flotilla-cluster", "Values": [cluster]}]


# What EC2 takes as a security group rule's IpProtocol (moto takes anything).
IP_PROTOCOL_NAMES = ("tcp", "udp", "icmp", "icmpv6", "-1")


def refused_protocol(request):
    """The IpProtocol EC2 would refuse in an Authorize request, or None."""
    body = request.body or ""
    for key, values in urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else body).items():
        value = values[0]
        number = value.isdigit() and int(value) <= 255
        if key.endswith(".IpProtocol") and value not in IP_PROTOCOL_NAMES and not number:
            return value
    return None


def xml_response(request, status, body):
    raw = HTTPResponse(body=io.BytesIO(body.encode()), status=status, preload_content=False)
    return AWSResponse(request.url, status, {"Content-Type": "text/xml;charset=UTF-8"}, raw)


def terminated_answer(request):
    """EC2's answer to TerminateInstances, for a termination that is then not done."""
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    ids = [values[0] for key, values in urllib.parse.parse_qs(body).items() if key.startswith("InstanceId.")]
    items = "".join(
        f"<item><instanceId>{i}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState>"
        "<previousState><code>16</code><name>running</name></previousState></item>"
        for i in ids
    )
    answer = (
        '<TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>00000000-0000-0000-0000-000000000000</requestId><instancesSet>{items}</instancesSet>"
        "</TerminateInstancesResponse>"
    )
    return ids, xml_response(request, 200, answer)


def request_params(request):
    body = request.body or ""
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode() if isinstance(body, bytes) else body).items()}


def error_response(request, kind):
    return ec2_error(request, *FAILURES[kind])


def ec2_error(request, status, code, message):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    )
    return xml_response(request, status, body)


class Harness(CloudHarness):
    provider = "aws"
    #: how long EC2 takes to answer a RunInstances (about a second on AWS);
    #: none in tests, set by a benchmark to compare serial and concurrent launches
    launch_seconds = 0

    def __init__(self):
        self._lock = threading.Lock()
        self._total = 0
        self._mutating = 0
        self._failed = 0
        self._creates = 0
        self._failure = None
        self._interrupt_at = None
        self._launches = []
        self._shown_running = set()
        self._keep_deletions = 0
        # Kept from a deletion: a waiter asking for them by id is told
        # "terminated" (as an eventually consistent EC2 may), a list still shows them.
        self._kept = set()
        # Eventual consistency, when switched on: ids no request has named
        # yet, and how many more deletions the VPC's parts refuse.
        self._consistent = True
        self._unseen = set()
        self._release_after = 0
        self._held = 0
        self.not_found_answers = 0
        self.dependency_answers = 0
        self._gate = ("before-send", self._before_send)
        self._hooks = [
            ("after-call.ec2.RunInstances", self._after_run),
            ("provide-client-params.ec2.DescribeInstances", self._note_ids),
            ("after-call.ec2.DescribeInstances", self._after_describe),
            *((f"after-call.ec2.{operation}", self._after_create) for operation in CREATED_IDS),
        ]

    def __enter__(self):
        # Set up under a stack of its own, so that a failure half-way undoes what was done.
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.dict(os.environ))
            for name in AWS_VARIABLES:
                os.environ.pop(name, None)
            # Empty files, so that the developer's own ~/.aws never takes part.
            empty = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "empty"
            empty.touch()
            os.environ.update(
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_CONFIG_FILE=str(empty),
                AWS_SHARED_CREDENTIALS_FILE=str(empty),
                AWS_EC2_METADATA_DISABLED="true",
            )
            stack.enter_context(mock_aws())
            seed_debian_images()
            self.ec2 = boto3.session.Session().client("ec2", region_name=REGION)
            # The fake's pending phase lasts one poll: no need for EC2's pace.
            stack.enter_context(mock.patch.object(aws, "POLL_SECONDS", POLL_SECONDS))
            # EC2's lag here lasts a call or a few, not seconds.
            stack.enter_context(mock.patch.object(consistency, "FIRST_DELAY", POLL_SECONDS / 10))
            stack.enter_context(mock.patch.object(consistency, "MAX_DELAY", POLL_SECONDS / 10))
            moto_slot = BUILTIN_HANDLERS.index(("before-send", botocore_stubber))
            BUILTIN_HANDLERS[moto_slot] = self._gate
            BUILTIN_HANDLERS.extend(self._hooks)
            stack.callback(self._remove_hooks, moto_slot)
            self._stack = stack.pop_all()
        return self

    def _remove_hooks(self, moto_slot):
        BUILTIN_HANDLERS[moto_slot] = ("before-send", botocore_stubber)
        for hook in self._hooks:
            BUILTIN_HANDLERS.remove(hook)

    def __exit__(self, *exc):
        self._stack.close()

    def options(self):
        return {"region": REGION, "ssh_cidr": SSH_CIDR}

    # The gate and the pending phase.

    def _before_send(self, request, event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self._total += 1
            self._mutating += operation.startswith(MUTATING)
            if operation.startswith("AuthorizeSecurityGroup") and refused_protocol(request):
                self._failed += 1
                return error_response(request, "protocol")
            refused = self._refused(request, operation)
            if refused:
                self._failed += 1
                return refused
            if operation == "TerminateInstances" and self._keep_deletions:
                self._keep_deletions -= 1
                ids, answer = terminated_answer(request)
                self._kept.update(ids)
                return answer
            if operation == "RunInstances":
                if self._interrupt_at is not None and self._creates >= self._interrupt_at:
                    self._interrupt_at = None
                    raise Interrupted(f"killed before RunInstances number {self._creates + 1}")
                if self._failure and self._failure["after"] <= self._creates and self._failure["times"]:
                    self._failure["times"] -= 1
                    self._failed += 1
                    return error_response(request, self._failure["kind"])
                self._creates += 1
        if operation == "RunInstances":
            time.sleep(self.launch_seconds)
        return botocore_stubber(event_name=event_name, request=request, **kwargs)

    def _refused(self, request, operation):
        """EC2's answer where it differs from moto's, or None; a subnet without
        a zone is sent on to moto with the zone AWS may choose."""
        params = request_params(request)
        if operation == "CreateSubnet" and "AvailabilityZone" not in params and "AvailabilityZoneId" not in params:
            request.body = f"{request.body.decode() if isinstance(request.body, bytes) else request.body}&" + (
                urllib.parse.urlencode({"AvailabilityZone": fewest_types_zone(REGION)})
            )
            request.headers["Content-Length"] = str(len(request.body))
        if operation == "RunInstances":
            unsupported = unsupported_zone(params)
            if unsupported:
                return ec2_error(request, 400, "Unsupported", unsupported)
        if self._consistent:
            return None
        if operation == "TerminateInstances":
            self._held = self._release_after
        if operation in HELD and self._held:
            self._held -= 1
            self.dependency_answers += 1
            named = next(v for k, v in params.items() if k.endswith("Id"))
            return ec2_error(request, 400, "DependencyViolation", f"resource {named} has a dependent object")
        if operation.startswith("Delete") or operation == "DetachInternetGateway":
            return None  # what is deleted has been named before
        # Filters name no resource: a filter on an unknown id matches nothing.
        named = [v for k, v in params.items() if not k.startswith("Filter.") and v in self._unseen]
        if not named:
            return None
        self._unseen -= set(named)
        self.not_found_answers += 1
        code, message = next(answer for prefix, answer in NOT_FOUND.items() if named[0].startswith(prefix))
        return ec2_error(request, 400, code, message.format(named[0]))

    def _after_create(self, parsed, model, **_):
        if not self._consistent:
            with self._lock:
                self._unseen.update(CREATED_IDS[model.name](parsed))

    def _after_run(self, parsed, **_):
        with self._lock:
            self._launches.append({instance["InstanceId"] for instance in parsed.get("Instances", [])})

    @staticmethod
    def _note_ids(params, context, **_):
        context["flotilla_by_ids"] = bool(params.get("InstanceIds"))

    def _after_describe(self, parsed, context, **_):
        with self._lock:
            for reservation in parsed.get("Reservations", []):
                reservation["Instances"] = [i for i in reservation["Instances"] if i["InstanceId"] not in self._unseen]
        instances = [i for reservation in parsed.get("Reservations", []) for i in reservation["Instances"]]
        for instance in instances:
            if context.get("flotilla_by_ids") and instance["InstanceId"] in self._kept:
                instance["State"] = {"Code": 48, "Name": "terminated"}
        answered = {instance["InstanceId"] for instance in instances}
        with self._lock:
            pending = set().union(*(launch for launch in self._launches if launch & answered))
            self._launches = [launch for launch in self._launches if not launch & answered]
            for instance in instances:
                if instance["InstanceId"] in pending and instance["State"]["Name"] == "running":
                    instance["State"] = {"Code": 0, "Name": "pending"}
                elif instance["State"]["Name"] == "running":
                    self._shown_running.add(instance["InstanceId"])

    def _state(self, instance):
        state = instance["State"]["Name"]
        return "pending" if state == "running" and instance["InstanceId"] not in self._shown_running else state

    # The contract's questions, through EC2's own describe calls.

    def machines(self, cluster):
        machines = []
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=tag_filter(cluster))
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    if instance["State"]["Name"] == "terminated":
                        continue
                    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
                    machines.append(
                        {
                            "name": tags.get("Name", instance["InstanceId"]),
                            "state": self._state(instance),
                            "tags": tags,
                            "address": instance.get("PublicIpAddress") or instance.get("PrivateIpAddress"),
                        }
                    )
        return machines

    def networks(self, cluster):
        return [vpc["VpcId"] for vpc in self.ec2.describe_vpcs(Filters=tag_filter(cluster))["Vpcs"]]

    def openings(self, cluster):
        machines = self.machines(cluster)
        attached = {}  # security group -> the names of the instances it is on
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=tag_filter(cluster))
        for instance in (i for page in pages for r in page["Reservations"] for i in r["Instances"]):
            if instance["State"]["Name"] != "terminated":
                name = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}.get("Name")
                # A launch with its own network interface has its groups there.
                interfaces = instance.get("NetworkInterfaces", [])
                for group in instance["SecurityGroups"] + [g for i in interfaces for g in i.get("Groups", [])]:
                    attached.setdefault(group["GroupId"], set()).add(name)
        # The cluster's groups, and any other group its machines are in.
        groups = {
            g["GroupId"]: g for g in self.ec2.describe_security_groups(Filters=tag_filter(cluster))["SecurityGroups"]
        }
        if attached:
            groups.update(
                {g["GroupId"]: g for g in self.ec2.describe_security_groups(GroupIds=list(attached))["SecurityGroups"]}
            )
        opened = set()
        for group_id, group in groups.items():
            target = self.who(machines, attached.get(group_id, ()))
            for permission in group["IpPermissions"]:
                protocol = permission["IpProtocol"]
                if protocol in ("tcp", "udp"):
                    ports = ports_between(protocol, permission.get("FromPort"), permission.get("ToPort"))
                else:
                    ports = [({"-1": EVERY_PROTOCOL, "50": "esp"}.get(protocol, protocol), None)]
                sources = [r["CidrIp"] for r in permission.get("IpRanges", [])]
                sources += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
                sources = [WORLD if source in ("0.0.0.0/0", "::/0") else source for source in sources]
                sources += [
                    self.who(machines, attached.get(p["GroupId"], ())) for p in permission.get("UserIdGroupPairs", [])
                ]
                opened |= {(proto, port, source, target) for proto, port in ports for source in sources}
        return opened

    def tagged_resources(self, cluster):
        found = [f"instance:{m['name']}" for m in self.machines(cluster)]
        for kind, (method, key, id_key) in KINDS.items():
            items = getattr(self.ec2, method)(Filters=tag_filter(cluster))[key]
            found += [f"{kind}:{item[id_key]}" for item in items]
        return found

    # Failures.

    def fail_next(self, kind, times=1, after=0):
        with self._lock:
            self._failure = {"kind": kind, "times": times, "after": self._creates + after}

    def eventually_consistent(self, release_after=3):
        """From now on, answer as an eventually consistent EC2: new ids
        unknown to their first request, and the VPC's parts held for
        ``release_after`` deletion calls after each termination."""
        with self._lock:
            self._consistent = False
            self._release_after = release_after

    def keep_next_deletion(self):
        with self._lock:
            self._keep_deletions += 1

    def interrupt_after(self, creates):
        with self._lock:
            self._interrupt_at = self._creates + creates

    @property
    def failed_calls(self):
        return self._failed

    @contextlib.contextmanager
    def without_credentials(self):
        with mock.patch.dict(os.environ):
            for name in AWS_VARIABLES:
                os.environ.pop(name, None)
            yield

    @property
    def mutating_calls(self):
        return self._mutating

    @property
    def total_calls(self):
        return self._total
