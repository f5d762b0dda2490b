"""The Azure provider: Debian 12 VMs in one resource group per cluster.

    flotilla-<cluster>              resource group; deleting it deletes all below
      flotilla-<cluster>-vnet       one subnet over vnet_cidr, the NSG on it
      flotilla-<cluster>-nsg        SSH from ssh_cidr, swarm ports from the VNet
      flotilla-<cluster>-public     ASG of public agents' NICs, open to the Internet
      <machine>, -nic, -ip, -osdisk the VM and what it defines and takes along

Everything carries the cluster's tags, and machines are found by them. A
machine is one PUT (its NIC and public IP are defined inside the VM), begun
without a poller of its own: one list of the group's VMs, read every few
seconds, tells when all of them are done.
"""

import concurrent.futures
import time

from provisioners.providers.azure.clients import AzureClients
from provisioners.providers.azure.errors import CREDENTIALS_HINT, translated
from provisioners.providers.azure.inventory import sample_inventory
from provisioners.providers.azure.layout import Layout
from provisioners.providers.azure.machines import read_node, virtual_machine
from provisioners.providers.azure.network import delete_group, ensure_group, ensure_security, ensure_vnet
from provisioners.providers.azure.options import AzureOptions
from provisioners.providers.base import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY, Provider, ProviderError

# Long operations in flight at once. Compute throttles VM writes per
# subscription (PutVM3Min: about 240 in three minutes); a VM takes a minute or
# two, so 50 at a time stays within it, with room for retries and for the
# subscription's other users.
IN_FLIGHT = 50
# Requests sent at once: azure-core's requests session keeps 10 connections per host.
REQUESTS = 10
# Seconds between two reads of the list when the spec sets no polling_interval.
POLL_SECONDS = 10
# A machine still not done after this long is reported, not waited for.
TIMEOUT_SECONDS = 30 * 60


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
        vms = self.clients.compute.virtual_machines
        models = {
            r.name: virtual_machine(self.options, r.tags(self.cluster), self.layout, r, self.public_key)
            for r in requests
        }

        failed = []

        def begin(name):
            vms.begin_create_or_update(self.layout.group, name, models[name], polling=False)
            return True

        def created(names):
            states = self._vm_states()
            failed.extend(name for name in names if states.get(name) == "failed")
            return {name for name in names if states.get(name) in ("succeeded", "failed")}

        with translated(f"creating {len(requests)} virtual machines", self.options):
            self._run_bounded(list(models), begin, created)
        if failed:
            raise ProviderError(
                f"Azure could not create {', '.join(sorted(failed))} (provisioning state Failed); "
                "the activity log of the resource group says why."
            )

    def delete_nodes(self, names):
        """Delete the VMs; each takes its OS disk, NIC and public IP along (their delete option says so)."""
        if not names:
            return
        vms = self.clients.compute.virtual_machines

        def begin(name):
            from azure.core.exceptions import ResourceNotFoundError

            try:
                vms.begin_delete(self.layout.group, name, polling=False)
            except ResourceNotFoundError:
                return False  # gone already, or its whole group is
            return True

        def deleted(names):
            # Over when gone, or no longer deleting (a VM the cloud kept: remove reads it back).
            states = self._vm_states()
            return {name for name in names if states.get(name) != "deleting"}

        with translated(f"deleting {len(names)} machines", self.options):
            self._run_bounded(list(names), begin, deleted)

    def _vm_states(self):
        """One list of the group's VMs: each one's provisioning state, lower-cased."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            listed = list(self.clients.compute.virtual_machines.list(self.layout.group))
        except ResourceNotFoundError:
            return {}
        return {vm.name: (vm.provisioning_state or "").lower() for vm in listed}

    def _run_bounded(self, names, begin, settled):
        """Begin a long operation per name, at most IN_FLIGHT at once, and wait for them all by one list.

        ``begin(name)`` sends the request and says whether there is anything
        to wait for; ``settled(names)`` reads the list once and returns those
        whose operation is over. The first name goes alone: what would refuse
        every request (a permission, a quota, a bad parameter) then costs one
        request, not one per machine. After a refusal nothing more begins, but
        what has begun is waited for, so that an undo deletes finished
        machines instead of racing their creation.
        """
        from azure.core.exceptions import AzureError

        interval = self.options.polling_interval
        interval = POLL_SECONDS if interval is None else interval
        deadline = time.monotonic() + TIMEOUT_SECONDS
        waiting, in_flight, refusals = list(names), set(), []
        with concurrent.futures.ThreadPoolExecutor(REQUESTS) as pool:
            while waiting or in_flight:
                if refusals:
                    room = 0
                elif len(waiting) == len(names):
                    room = 1  # the first alone
                else:
                    room = IN_FLIGHT - len(in_flight)
                starting, waiting = waiting[:room], waiting[room:]
                for name, future in [(name, pool.submit(begin, name)) for name in starting]:
                    try:
                        if future.result():
                            in_flight.add(name)
                    except AzureError as err:
                        refusals.append(err)
                if refusals:
                    waiting = []
                if not in_flight or (waiting and len(in_flight) < IN_FLIGHT and not refusals):
                    continue
                if time.monotonic() > deadline:
                    raise ProviderError(
                        f"Azure has not finished {', '.join(sorted(in_flight))} after {TIMEOUT_SECONDS // 60} "
                        "minutes; run this again to pick up where it stopped."
                    )
                time.sleep(interval)
                in_flight -= settled(in_flight)
        if refusals:
            raise refusals[0]

    def cleanup(self):
        with translated(f"deleting resource group {self.layout.group}", self.options):
            delete_group(self.clients, self.layout)

    def delete_cluster(self):
        """The resource group alone: ARM deletes all it holds, machines and their disks, NICs and IPs."""
        self.cleanup()

    def remains(self):
        """The machines and the resource group, while the group exists."""
        from azure.core.exceptions import ResourceNotFoundError

        with translated(f"reading resource group {self.layout.group}", self.options):
            try:
                self.clients.resources.resource_groups.get(self.layout.group)
            except ResourceNotFoundError:
                return []
        return [node.name for node in self.list_nodes()] + [self.layout.group]

    def dynamic_inventory(self):
        return "azure_rm.yml", sample_inventory(self.cluster, self.layout.group, self.options.ssh_user)
