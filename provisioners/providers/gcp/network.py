"""The network, subnetwork and firewall rules one cluster's machines share.

GCP networks and firewall rules carry no labels, so the cluster is in their
names (flotilla-<cluster>-...) and in a description that reads like the
instances' labels. Each is looked up by name before it is made, so that a
re-run converges; a rule that differs from the spec is updated in place.
"""

import functools

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import SWARM_TRAFFIC

from provisioners.providers.base import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY


def swarm_allowed():
    """The swarm's traffic as a firewall rule's ``allowed``: one entry per
    protocol (Compute names ESP "esp"), ports only where the protocol has them."""
    ports = {}
    for traffic in SWARM_TRAFFIC:
        ports.setdefault(traffic.protocol, [])
        if traffic.port is not None:
            ports[traffic.protocol].append(str(traffic.port))
    return list(ports.items())


class ClusterNetwork:
    def __init__(self, cluster, options, api):
        self.cluster = cluster
        self.options = options
        self.api = api
        self.prefix = f"flotilla-{cluster}"

    @property
    def network_name(self):
        return f"{self.prefix}-net"

    @property
    def network_link(self):
        return f"projects/{self.api.project}/global/networks/{self.network_name}"

    @property
    def subnetwork_name(self):
        return f"{self.prefix}-subnet"

    @property
    def subnetwork_link(self):
        return f"projects/{self.api.project}/regions/{self.options.region}/subnetworks/{self.subnetwork_name}"

    @property
    def member_tag(self):
        """The network tag of every machine: swarm ports are open only between these."""
        return self.prefix

    @property
    def public_tag(self):
        """The network tag of public agents, the only machines open to everyone."""
        return f"{self.prefix}-public"

    def tags_for(self, pool):
        return [self.member_tag, self.public_tag] if pool == "public" else [self.member_tag]

    def _description(self, purpose):
        return f"{TAG_CLUSTER}={self.cluster} {TAG_MANAGED_BY}={MANAGED_BY}: {purpose}"

    def ensure(self):
        from google.cloud import compute_v1

        api = self.api
        if api.if_exists(api.networks.get, network=self.network_name) is None:
            network = compute_v1.Network(
                name=self.network_name,
                auto_create_subnetworks=False,
                description=self._description("the cluster's network"),
            )
            api.wait([api.networks.insert(project=api.project, network_resource=network, retry=api.retry)])
        region = self.options.region
        if api.if_exists(api.subnetworks.get, region=region, subnetwork=self.subnetwork_name) is None:
            subnetwork = compute_v1.Subnetwork(
                name=self.subnetwork_name,
                network=self.network_link,
                ip_cidr_range=self.options.subnet_cidr,
                description=self._description("the machines' addresses"),
            )
            insert = api.subnetworks.insert(
                project=api.project, region=region, subnetwork_resource=subnetwork, retry=api.retry
            )
            api.wait([insert])
        api.run([functools.partial(self._ensure_rule, rule) for rule in self._rules()])
        # An earlier spec may have had public ports that this one no longer has.
        public_rule = f"{self.prefix}-public"
        if not self.options.public_ports and api.if_exists(api.firewalls.get, firewall=public_rule):
            api.wait([api.if_exists(api.firewalls.delete, firewall=public_rule)], missing_ok=True)

    def _ensure_rule(self, rule):
        """The operation that makes ``rule`` hold, or None if it already does."""
        api = self.api
        existing = api.if_exists(api.firewalls.get, firewall=rule.name)
        if existing is None:
            return api.firewalls.insert(project=api.project, firewall_resource=rule, retry=api.retry)
        if _shape(existing) != _shape(rule):
            return api.firewalls.update(
                project=api.project, firewall=rule.name, firewall_resource=rule, retry=api.retry
            )
        return None

    def _rules(self):
        from google.cloud import compute_v1

        def rule(suffix, purpose, allowed, **sources_and_targets):
            return compute_v1.Firewall(
                name=f"{self.prefix}-{suffix}",
                network=self.network_link,
                direction="INGRESS",
                description=self._description(purpose),
                allowed=[compute_v1.Allowed(I_p_protocol=protocol, ports=list(ports)) for protocol, ports in allowed],
                **sources_and_targets,
            )

        rules = [
            rule(
                "ssh",
                "SSH from the operator's range",
                [("tcp", ["22"])],
                source_ranges=[self.options.ssh_cidr],
                target_tags=[self.member_tag],
            ),
            rule(
                "swarm",
                "Docker swarm between the cluster's machines",
                swarm_allowed(),
                source_tags=[self.member_tag],
                target_tags=[self.member_tag],
            ),
        ]
        # A tcp rule without ports would open every port, so no ports means no rule.
        if self.options.public_ports:
            ports = [str(port) for port in self.options.public_ports]
            rules.append(
                rule(
                    "public",
                    "public agents' published ports",
                    [("tcp", ports)],
                    source_ranges=["0.0.0.0/0"],
                    target_tags=[self.public_tag],
                )
            )
        return rules

    def delete(self):
        """Delete the rules, the subnetwork, then the network: each needs the next."""
        api = self.api
        rules = [f"{self.prefix}-{suffix}" for suffix in ("ssh", "swarm", "public")]
        deletes = [functools.partial(api.if_exists, api.firewalls.delete, firewall=name) for name in rules]
        api.run(deletes, missing_ok=True)
        api.wait(
            [api.if_exists(api.subnetworks.delete, region=self.options.region, subnetwork=self.subnetwork_name)],
            missing_ok=True,
        )
        api.wait([api.if_exists(api.networks.delete, network=self.network_name)], missing_ok=True)


def _shape(firewall):
    """What a rule lets through, comparable between the cloud's copy and the spec's."""
    return (
        sorted(firewall.source_ranges),
        sorted(firewall.source_tags),
        sorted(firewall.target_tags),
        sorted((allowed.I_p_protocol, tuple(allowed.ports)) for allowed in firewall.allowed),
    )
