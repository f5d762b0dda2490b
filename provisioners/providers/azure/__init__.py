"""The Azure provider: Debian 12 VMs in one resource group per cluster.

    flotilla-<cluster>              resource group; deleting it deletes all below
      flotilla-<cluster>-vnet       one subnet over vnet_cidr, the NSG on it
      flotilla-<cluster>-nsg        SSH from ssh_cidr, swarm ports from the VNet
      flotilla-<cluster>-public     ASG of public agents' NICs, open to the Internet
      <machine>, -nic, -ip, -osdisk the VM and what its deletion takes along

Everything carries the cluster's tags, and machines are found by them. Long
operations are begun for every machine at once and only then waited for, so
that ARM works on all of them side by side.
"""

import functools

from provisioners.providers.azure.clients import AzureClients
from provisioners.providers.azure.errors import CREDENTIALS_HINT, translated
from provisioners.providers.azure.inventory import sample_inventory
from provisioners.providers.azure.layout import Layout
from provisioners.providers.azure.machines import nic, public_ip, read_node, virtual_machine
from provisioners.providers.azure.network import delete_group, ensure_group, ensure_security, ensure_vnet
from provisioners.providers.azure.options import AzureOptions
from provisioners.providers.base import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY, Provider, ProviderError


class AzureProvider(Provider):
    Options = AzureOptions
    location_options = ("subscription_id", "location")

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self.clients = AzureClients(options)
        self.layout = Layout(options.subscription_id, self.cluster)

    @property
    def ssh_user(self):
        return self.options.ssh_user

    def _tags(self):
        return {TAG_CLUSTER: self.cluster, TAG_MANAGED_BY: MANAGED_BY}

    def _is_ours(self, vm):
        tags = vm.tags or {}
        return (
            tags.get(TAG_CLUSTER) == self.cluster
            and tags.get(TAG_MANAGED_BY) == MANAGED_BY
            and (vm.provisioning_state or "").lower() != "deleting"
        )

    def check(self):
        from azure.core.exceptions import ClientAuthenticationError

        if self.options.ssh_cidr is None:
            raise ProviderError(
                "set azure.ssh_cidr to the address range you connect from (such as 203.0.113.7/32): "
                "Flotilla does not open SSH to the whole Internet unless told to."
            )
        try:
            self.clients.authenticate()
        except ClientAuthenticationError:
            # The chain raises this both when it finds nothing and when what it
            # found was refused or unreachable; the same advice fits both.
            raise ProviderError(f"no Azure credentials were found, or they were refused: {CREDENTIALS_HINT}.") from None

    def prepare(self):
        tags = self._tags()
        with translated("creating the cluster's resource group, network and firewall", self.options):
            ensure_group(self.clients, self.layout, self.options.location, tags)
            ensure_security(self.clients, self.layout, self.options, tags)
            ensure_vnet(self.clients, self.layout, self.options, tags)

    def list_nodes(self):
        from azure.core.exceptions import ResourceNotFoundError

        group = self.layout.group
        with translated("listing the cluster's machines", self.options):
            try:
                listed = self.clients.compute.virtual_machines.list(group, expand="instanceView")
                vms = [vm for vm in listed if self._is_ours(vm)]
                if not vms:
                    return []
                network = self.clients.network
                nics = {n.id.lower(): n for n in network.network_interfaces.list(group)}
                addresses = {a.id.lower(): a for a in network.public_ip_addresses.list(group)}
            except ResourceNotFoundError:
                # No resource group: the cluster has no machines.
                return []
        return sorted((read_node(vm, nics, addresses) for vm in vms), key=lambda node: node.name)

    def create_nodes(self, requests):
        layout, options, network = self.layout, self.options, self.clients.network
        tags = {r.name: r.tags(self.cluster) for r in requests}
        count = len(requests)
        # In this order: a NIC names its public IP, and a VM its NIC.
        self._create_all(
            f"public IP addresses for {count} machines",
            network.public_ip_addresses,
            [(layout.public_ip(r.name), public_ip(options, tags[r.name])) for r in requests],
        )
        self._create_all(
            f"network interfaces for {count} machines",
            network.network_interfaces,
            [(layout.nic(r.name), nic(options, tags[r.name], layout, r)) for r in requests],
        )
        self._create_all(
            f"{count} virtual machines",
            self.clients.compute.virtual_machines,
            [(r.name, virtual_machine(options, tags[r.name], layout, r, self.public_key)) for r in requests],
        )

    def _create_all(self, what, operations, resources):
        with translated(f"creating {what}", self.options):
            run_all(
                functools.partial(operations.begin_create_or_update, self.layout.group, name, model)
                for name, model in resources
            )

    def delete_nodes(self, names):
        if not names:
            return
        group, network = self.layout.group, self.clients.network
        with translated(f"deleting {len(names)} machines", self.options):
            # A VM's deletion takes its OS disk, NIC and public IP along (their
            # delete option says so); one already gone is answered 204.
            run_all(deleting(self.clients.compute.virtual_machines, group, name) for name in names)
            # A run stopped between creating a machine's NIC and its VM leaves
            # the NIC and IP behind: find them in two lists rather than two
            # deletions per machine. NICs first, as an attached IP cannot go.
            for operations, name_of in (
                (network.network_interfaces, self.layout.nic),
                (network.public_ip_addresses, self.layout.public_ip),
            ):
                leftover = {name_of(name).lower() for name in names}
                run_all(
                    deleting(operations, group, resource.name)
                    for resource in _listed(operations, group)
                    if resource.name.lower() in leftover
                )

    def cleanup(self):
        with translated(f"deleting resource group {self.layout.group}", self.options):
            delete_group(self.clients, self.layout)

    def dynamic_inventory(self):
        return "azure_rm.yml", sample_inventory(self.cluster, self.layout.group, self.options.ssh_user)


def run_all(starts):
    """Begin every long operation, then wait for all of them: ARM works on them side by side.

    When beginning one fails, those already begun are still waited for (an
    undo then deletes finished resources instead of racing their creation);
    a KeyboardInterrupt does not wait.
    """
    pollers = []
    try:
        for start in starts:
            pollers.append(start())
    except Exception:
        _settle(pollers)
        raise
    failures = _settle(pollers)
    if failures:
        raise failures[0]


def _settle(pollers):
    from azure.core.exceptions import AzureError

    failures = []
    for poller in pollers:
        if poller is None:
            continue
        try:
            poller.result()
        except AzureError as err:
            failures.append(err)
    return failures


def deleting(operations, group, name):
    """A start for ``run_all`` that deletes one resource; when its whole group is gone, there is nothing to wait for."""

    def start():
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return operations.begin_delete(group, name)
        except ResourceNotFoundError:
            return None

    return start


def _listed(operations, group):
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return list(operations.list(group))
    except ResourceNotFoundError:
        return []
