"""What a cluster's machines share on AWS, found by the cluster's tags.

One VPC, routed to an internet gateway, with a subnet in a zone that offers
the instance type (a subnet of an earlier run in a zone that does not offer
it stays, unused, and goes with the VPC); the members' security group (SSH
from the operator's range, the swarm ports only from members of the same
group) and one for public agents (their published ports, from anywhere); the
key pair Ansible logs in with. Each piece is looked up before it is made, and
tagged as it is made, so that an interrupted run converges when run again.
The groups' rules are Flotilla's: any other rule in them is revoked, except
that SSH keeps the range it has unless the spec names one.
"""

import dataclasses
import ipaddress

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import SWARM_TRAFFIC

from provisioners.providers.aws.consistency import eventually, once_freed
from provisioners.providers.aws.errors import is_gone
from provisioners.providers.base import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY

# A security group names tcp, udp and icmp by name and every other protocol
# by its IP protocol number, and answers with the number too.
IP_PROTOCOL = {"tcp": "tcp", "udp": "udp", "esp": "50"}
PORTED = ("tcp", "udp")
WORLD = "0.0.0.0/0"
SSH_PORT = 22


@dataclasses.dataclass(frozen=True)
class Shared:
    subnet_id: str
    group_id: str
    public_group_id: str
    key_name: str
    ssh_cidrs: frozenset


class Network:
    def __init__(self, ec2, cluster):
        self.ec2 = ec2
        self.cluster = cluster
        self.name = f"flotilla-{cluster}"

    def filters(self, **extra):
        tags = {f"tag:{TAG_CLUSTER}": self.cluster, f"tag:{TAG_MANAGED_BY}": MANAGED_BY}
        return [{"Name": key, "Values": [value]} for key, value in {**tags, **extra}.items()]

    def tag_specifications(self, resource_type, name=None):
        tags = {TAG_CLUSTER: self.cluster, TAG_MANAGED_BY: MANAGED_BY, "Name": name or self.name}
        return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]

    def ensure(self, options, zones, ssh_cidr, public_key, resolve_ssh_cidr):
        """Find or make every piece. ``zones``: the zones to choose from (the
        instance type's, or the one the spec names); ``ssh_cidr`` None keeps
        the SSH range the group has, or asks ``resolve_ssh_cidr()`` for a new group."""
        vpc_id = self._vpc(options.vpc_cidr)
        gateway_id = self._gateway(vpc_id)
        subnet_id = self._subnet(vpc_id, options.vpc_cidr, zones)
        self._route_table(vpc_id, subnet_id, gateway_id)
        group_id = self._group(vpc_id, self.name, "swarm members")
        present = self._rules(group_id)
        ssh = ("tcp", SSH_PORT, SSH_PORT)
        kept = {source for *ports, source in present if tuple(ports) == ssh and not source.startswith("sg-")}
        ssh_cidrs = {ssh_cidr} if ssh_cidr else kept or {resolve_ssh_cidr()}
        members = {(*ssh, cidr) for cidr in ssh_cidrs} | {
            (IP_PROTOCOL[traffic.protocol], traffic.port, traffic.port, group_id) for traffic in SWARM_TRAFFIC
        }
        self._converge_rules(group_id, present, members)
        public_group_id = self._group(vpc_id, f"{self.name}-public", "published ports of public agents")
        public = {("tcp", port, port, WORLD) for port in options.public_ports}
        self._converge_rules(public_group_id, self._rules(public_group_id), public)
        return Shared(subnet_id, group_id, public_group_id, self._key_pair(public_key), frozenset(ssh_cidrs))

    def _vpc(self, cidr):
        for vpc in self.ec2.describe_vpcs(Filters=self.filters())["Vpcs"]:
            return vpc["VpcId"]
        created = self.ec2.create_vpc(CidrBlock=cidr, TagSpecifications=self.tag_specifications("vpc"))
        return created["Vpc"]["VpcId"]

    def _gateway(self, vpc_id):
        gateways = self.ec2.describe_internet_gateways(Filters=self.filters())["InternetGateways"]
        if gateways:
            gateway = gateways[0]
        else:
            specs = self.tag_specifications("internet-gateway")
            gateway = self.ec2.create_internet_gateway(TagSpecifications=specs)["InternetGateway"]
        if vpc_id not in {a["VpcId"] for a in gateway.get("Attachments", [])}:
            eventually(self.ec2.attach_internet_gateway, InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
        return gateway["InternetGatewayId"]

    def _subnet(self, vpc_id, vpc_cidr, zones):
        """The cluster's subnet in one of ``zones``, made in the first of them when it has none there."""
        subnets = self.ec2.describe_subnets(Filters=self.filters(**{"vpc-id": vpc_id}))["Subnets"]
        for subnet in sorted(subnets, key=lambda subnet: subnet["CidrBlock"]):
            if subnet["AvailabilityZone"] in zones:
                return subnet["SubnetId"]
        # A sixteenth of the VPC: room for every machine, and for a subnet in another zone.
        used = {subnet["CidrBlock"] for subnet in subnets}
        network = ipaddress.IPv4Network(vpc_cidr)
        cidr = next(str(c) for c in network.subnets(new_prefix=network.prefixlen + 4) if str(c) not in used)
        created = eventually(
            self.ec2.create_subnet,
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=sorted(zones)[0],
            TagSpecifications=self.tag_specifications("subnet"),
        )
        return created["Subnet"]["SubnetId"]

    def _route_table(self, vpc_id, subnet_id, gateway_id):
        tables = self.ec2.describe_route_tables(Filters=self.filters(**{"vpc-id": vpc_id}))["RouteTables"]
        if tables:
            table = tables[0]
        else:
            specs = self.tag_specifications("route-table")
            table = eventually(self.ec2.create_route_table, VpcId=vpc_id, TagSpecifications=specs)["RouteTable"]
        table_id = table["RouteTableId"]
        default = [r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == WORLD]
        route = {"RouteTableId": table_id, "DestinationCidrBlock": WORLD, "GatewayId": gateway_id}
        if not default:
            eventually(self.ec2.create_route, **route)
        elif default[0].get("GatewayId") != gateway_id:
            eventually(self.ec2.replace_route, **route)
        if subnet_id not in {a.get("SubnetId") for a in table.get("Associations", [])}:
            eventually(self.ec2.associate_route_table, RouteTableId=table_id, SubnetId=subnet_id)

    def _group(self, vpc_id, name, purpose):
        found = self.ec2.describe_security_groups(Filters=self.filters(**{"vpc-id": vpc_id, "group-name": name}))
        for group in found["SecurityGroups"]:
            return group["GroupId"]
        created = eventually(
            self.ec2.create_security_group,
            GroupName=name,
            Description=f"Flotilla cluster {self.cluster}: {purpose}",
            VpcId=vpc_id,
            TagSpecifications=self.tag_specifications("security-group", name),
        )
        return created["GroupId"]

    def _rules(self, group_id):
        """The group's inbound rules, as (protocol, from port, to port, source) tuples."""
        group = eventually(self.ec2.describe_security_groups, GroupIds=[group_id])["SecurityGroups"][0]
        present = set()
        for permission in group["IpPermissions"]:
            protocol = permission["IpProtocol"]
            # Ports mean nothing to other protocols, whatever EC2 answers for them.
            if protocol in PORTED:
                ports = (protocol, permission.get("FromPort"), permission.get("ToPort"))
            else:
                ports = (protocol, None, None)
            present |= {(*ports, r["CidrIp"]) for r in permission.get("IpRanges", [])}
            present |= {(*ports, p["GroupId"]) for p in permission.get("UserIdGroupPairs", [])}
        return present

    def _converge_rules(self, group_id, present, wanted):
        missing, extra = _permissions(wanted - present), _permissions(present - wanted)
        if missing:
            eventually(self.ec2.authorize_security_group_ingress, GroupId=group_id, IpPermissions=missing)
        if extra:
            eventually(self.ec2.revoke_security_group_ingress, GroupId=group_id, IpPermissions=extra)

    def _key_pair(self, public_key):
        pairs = self.ec2.describe_key_pairs(Filters=self.filters(), IncludePublicKey=True)["KeyPairs"]
        # AWS may rewrite the comment; type and key are what must match.
        for pair in pairs:
            if pair.get("PublicKey", "").split()[:2] == public_key.split()[:2]:
                return pair["KeyName"]
        for stale in pairs:
            self.ec2.delete_key_pair(KeyName=stale["KeyName"])
        self.ec2.import_key_pair(
            KeyName=self.name,
            PublicKeyMaterial=public_key.encode(),
            TagSpecifications=self.tag_specifications("key-pair"),
        )
        return self.name

    def delete(self):
        """Delete every piece, dependants first; a piece already gone is fine,
        and one still used by a machine just terminated is waited for."""
        ec2 = self.ec2
        for pair in ec2.describe_key_pairs(Filters=self.filters())["KeyPairs"]:
            _unless_gone(ec2.delete_key_pair, KeyName=pair["KeyName"])
        for group in ec2.describe_security_groups(Filters=self.filters())["SecurityGroups"]:
            _unless_gone(once_freed, ec2.delete_security_group, GroupId=group["GroupId"])
        for table in ec2.describe_route_tables(Filters=self.filters())["RouteTables"]:
            for association in table.get("Associations", []):
                if not association.get("Main"):
                    _unless_gone(ec2.disassociate_route_table, AssociationId=association["RouteTableAssociationId"])
            _unless_gone(ec2.delete_route_table, RouteTableId=table["RouteTableId"])
        for subnet in ec2.describe_subnets(Filters=self.filters())["Subnets"]:
            _unless_gone(once_freed, ec2.delete_subnet, SubnetId=subnet["SubnetId"])
        for gateway in ec2.describe_internet_gateways(Filters=self.filters())["InternetGateways"]:
            gateway_id = gateway["InternetGatewayId"]
            for attachment in gateway.get("Attachments", []):
                vpc_id = attachment["VpcId"]
                _unless_gone(once_freed, ec2.detach_internet_gateway, InternetGatewayId=gateway_id, VpcId=vpc_id)
            _unless_gone(ec2.delete_internet_gateway, InternetGatewayId=gateway_id)
        for vpc in ec2.describe_vpcs(Filters=self.filters())["Vpcs"]:
            _unless_gone(once_freed, ec2.delete_vpc, VpcId=vpc["VpcId"])


def _permissions(rules):
    permissions = []
    for protocol, from_port, to_port, source in sorted(rules, key=str):
        # -1: every port, which is what a protocol without ports gets anyway.
        permission = {"IpProtocol": protocol, "FromPort": -1 if from_port is None else from_port}
        permission["ToPort"] = -1 if to_port is None else to_port
        if source.startswith("sg-"):
            permission["UserIdGroupPairs"] = [{"GroupId": source}]
        else:
            permission["IpRanges"] = [{"CidrIp": source}]
        permissions.append(permission)
    return permissions


def _unless_gone(call, *args, **kwargs):
    from botocore.exceptions import ClientError

    try:
        call(*args, **kwargs)
    except ClientError as err:
        if not is_gone(err):
            raise
