"""What a cluster's machines share: its resource group, VNet, NSG and ASG.

Each is looked up first and created only when missing, so a re-run changes
nothing; the NSG is rewritten only when its rules differ from the spec's.
"""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import SWARM_TRAFFIC

from provisioners.providers.azure.layout import SUBNET
from provisioners.providers.base import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY, ProviderError


def _swarm_ports(protocol):
    return sorted({str(t.port) for t in SWARM_TRAFFIC if t.protocol == protocol})


SWARM_TCP = _swarm_ports("tcp")
SWARM_UDP = _swarm_ports("udp")
# An NSG names ESP "Esp"; a protocol without ports takes the port range "*".
SWARM_ESP = any(t.protocol == "esp" for t in SWARM_TRAFFIC)


def ensure_group(clients, layout, location, tags):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.resource.resources.models import ResourceGroup

    try:
        group = clients.resources.resource_groups.get(layout.group)
    except ResourceNotFoundError:
        clients.resources.resource_groups.create_or_update(layout.group, ResourceGroup(location=location, tags=tags))
        return
    require_ours(group, layout)
    state = group.properties.provisioning_state if group.properties else None
    if state == "Deleting":
        raise ProviderError(
            f"resource group {layout.group} is still being deleted (by an earlier `flotilla down`); "
            "run this again once it is gone."
        )


def require_ours(group, layout):
    """Refuse a group of the same name that Flotilla did not make: deleting it would delete all it holds."""
    tags = group.tags or {}
    if tags.get(TAG_CLUSTER) != layout.cluster or tags.get(TAG_MANAGED_BY) != MANAGED_BY:
        raise ProviderError(
            f"resource group {layout.group} exists but is not tagged as cluster {layout.cluster}'s; "
            "choose another cluster name, or remove that group yourself."
        )


def ensure_security(clients, layout, options, tags):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.network.models import ApplicationSecurityGroup, NetworkSecurityGroup

    network = clients.network
    try:
        network.application_security_groups.get(layout.group, layout.public_asg)
    except ResourceNotFoundError:
        network.application_security_groups.begin_create_or_update(
            layout.group, layout.public_asg, ApplicationSecurityGroup(location=options.location, tags=tags)
        ).result()

    wanted = security_rules(options, layout.public_asg_id)
    try:
        current = network.network_security_groups.get(layout.group, layout.nsg).security_rules or []
    except ResourceNotFoundError:
        current = None
    if current is None or {rule_key(r) for r in current} != {rule_key(r) for r in wanted}:
        network.network_security_groups.begin_create_or_update(
            layout.group,
            layout.nsg,
            NetworkSecurityGroup(location=options.location, tags=tags, security_rules=wanted),
        ).result()


def security_rules(options, public_asg_id):
    """Inbound rules; Azure's own default rules deny whatever else comes from the Internet."""
    from azure.mgmt.network.models import ApplicationSecurityGroup, SecurityRule

    def rule(name, priority, protocol, source, ports, access="Allow", destination_asg=None):
        return SecurityRule(
            name=name,
            priority=priority,
            direction="Inbound",
            access=access,
            protocol=protocol,
            # One source per rule, in the single-value field: ARM takes "*" and
            # tags such as "Internet" only there, never in source_address_prefixes.
            source_address_prefix=source,
            source_port_range="*",
            # A protocol without ports (Esp) takes the single range "*".
            **({"destination_port_range": "*"} if ports == ["*"] else {"destination_port_ranges": ports}),
            **(
                {"destination_application_security_groups": [ApplicationSecurityGroup(id=destination_asg)]}
                if destination_asg
                else {"destination_address_prefix": "*"}
            ),
        )

    vnet = options.vnet_cidr
    rules = [
        rule("ssh", 100, "Tcp", options.ssh_cidr, ["22"]),
        rule("swarm-tcp", 110, "Tcp", vnet, SWARM_TCP),
        rule("swarm-udp", 120, "Udp", vnet, SWARM_UDP),
        # Azure's default AllowVnetInBound also admits peered networks and VPN
        # gateways; this keeps the swarm's ports to the VNet's own range.
        rule("swarm-others", 130, "*", "*", sorted(set(SWARM_TCP + SWARM_UDP)), access="Deny"),
    ]
    if SWARM_ESP:
        rules += [
            rule("swarm-esp", 125, "Esp", vnet, ["*"]),
            rule("swarm-esp-others", 135, "Esp", "*", ["*"], access="Deny"),
        ]
    if options.public_ports:
        ports = [str(port) for port in sorted(set(options.public_ports))]
        rules.append(rule("public", 140, "Tcp", "Internet", ports, destination_asg=public_asg_id))
    return rules


def rule_key(rule):
    """What makes two rules the same, whichever of Azure's singular or plural fields hold it."""
    return (
        rule.name,
        rule.priority,
        rule.direction,
        rule.access,
        rule.protocol,
        tuple(sorted(rule.source_address_prefixes or [rule.source_address_prefix])),
        tuple(sorted(rule.destination_port_ranges or [rule.destination_port_range])),
        tuple(sorted(asg.id.lower() for asg in rule.destination_application_security_groups or [])),
    )


def ensure_vnet(clients, layout, options, tags):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.network.models import AddressSpace, NetworkSecurityGroup, Subnet, VirtualNetwork

    network = clients.network
    try:
        network.virtual_networks.get(layout.group, layout.vnet)
        return
    except ResourceNotFoundError:
        pass
    # The NSG sits on the subnet, so every NIC in it, present or future, is covered.
    subnet = Subnet(
        name=SUBNET,
        address_prefix=options.vnet_cidr,
        network_security_group=NetworkSecurityGroup(id=layout.nsg_id),
    )
    vnet = VirtualNetwork(
        location=options.location,
        tags=tags,
        address_space=AddressSpace(address_prefixes=[options.vnet_cidr]),
        subnets=[subnet],
    )
    network.virtual_networks.begin_create_or_update(layout.group, layout.vnet, vnet).result()


def delete_group(clients, layout):
    """Delete the cluster's resource group and all it holds; one already gone is fine."""
    from azure.core.exceptions import ResourceNotFoundError

    groups = clients.resources.resource_groups
    try:
        require_ours(groups.get(layout.group), layout)
        groups.begin_delete(layout.group).result()
    except ResourceNotFoundError:
        pass
