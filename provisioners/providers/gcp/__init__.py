"""The GCP provider: Compute Engine instances in a network of the cluster's own.

Every instance carries the cluster's labels, which are the only record of
which machines belong to it; the network and firewall rules carry the
cluster in their names (see network.py). Machines are created by issuing
every insert first and then waiting on the operations, so that Compute
works on all of them at once. google-cloud-compute is imported only inside
methods: the spec module imports this package to read GcpOptions.
"""

import uuid

from provisioners.providers.base import (
    MANAGED_BY,
    TAG_CLUSTER,
    TAG_MANAGED_BY,
    TAG_POOL,
    TAG_ROLE,
    Node,
    Provider,
    ProviderError,
)
from provisioners.providers.gcp import inventory
from provisioners.providers.gcp.api import ComputeApi
from provisioners.providers.gcp.errors import api_errors
from provisioners.providers.gcp.network import ClusterNetwork
from provisioners.providers.gcp.options import GcpOptions

BOOT_TIMEOUT = 300


class NotRunningYet(Exception):
    """Some of the machines just created are still starting; polled by a Retry."""

    def __init__(self, names):
        super().__init__(", ".join(names))
        self.names = names


class GcpProvider(Provider):
    Options = GcpOptions
    location_options = ("project", "zone")

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self.ssh_user = options.ssh_user
        self.api = ComputeApi(options.project)
        self.network = ClusterNetwork(self.cluster, options, self.api)

    def check(self):
        if self.options.ssh_cidr is None:
            raise ProviderError(
                "set gcp.ssh_cidr to the address range you connect from (for example 203.0.113.7/32): "
                "Flotilla never opens SSH to the whole internet on its own."
            )
        self.api.credentials()

    def prepare(self):
        with api_errors(self.api.project):
            self.network.ensure()

    def list_nodes(self):
        from google.cloud import compute_v1

        # Stopped (TERMINATED) instances are listed too: they still belong to
        # the cluster, hold its name and keep its subnetwork in use.
        request = compute_v1.ListInstancesRequest(
            project=self.api.project,
            zone=self.options.zone,
            # Compute wants each of several expressions in parentheses.
            filter=f'(labels.{TAG_CLUSTER} = "{self.cluster}") AND (labels.{TAG_MANAGED_BY} = "{MANAGED_BY}")',
        )
        with api_errors(self.api.project):
            instances = list(self.api.instances.list(request=request, retry=self.api.retry))
        return sorted((_node(instance) for instance in instances), key=lambda node: node.name)

    def create_nodes(self, requests):
        with api_errors(self.api.project):
            self.api.wait([self._insert(request) for request in requests])
        self._wait_running([request.name for request in requests])

    def _insert(self, request):
        from google.cloud import compute_v1

        labels = request.tags(self.cluster)
        zone = self.options.zone
        instance = compute_v1.Instance(
            name=request.name,
            machine_type=f"zones/{zone}/machineTypes/{self.options.machine_type}",
            labels=labels,
            tags=compute_v1.Tags(items=self.network.tags_for(request.pool)),
            disks=[
                compute_v1.AttachedDisk(
                    boot=True,
                    auto_delete=True,
                    initialize_params=compute_v1.AttachedDiskInitializeParams(
                        source_image=self.options.image, labels=labels
                    ),
                )
            ],
            network_interfaces=[
                compute_v1.NetworkInterface(
                    subnetwork=self.network.subnetwork_link,
                    access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")],
                )
            ],
            metadata=compute_v1.Metadata(
                items=[compute_v1.Items(key="ssh-keys", value=f"{self.ssh_user}:{self.public_key.strip()}")]
            ),
        )
        # The request ID makes a retried insert (after a rate limit) the same
        # insert to Compute, never a second machine.
        insert = compute_v1.InsertInstanceRequest(
            project=self.api.project, zone=zone, instance_resource=instance, request_id=str(uuid.uuid4())
        )
        return self.api.instances.insert(request=insert, retry=self.api.retry)

    def _wait_running(self, names):
        from google.api_core import exceptions, retry

        poll = retry.Retry(
            predicate=retry.if_exception_type(NotRunningYet), initial=1.0, maximum=10.0, timeout=BOOT_TIMEOUT
        )
        try:
            poll(self._raise_unless_running)(names)
        except exceptions.RetryError as err:
            raise ProviderError(
                f"{err.cause} did not reach RUNNING within {BOOT_TIMEOUT} s; see their serial port output "
                "in the Cloud Console, then run the same command again."
            ) from err

    def _raise_unless_running(self, names):
        nodes = {node.name: node for node in self.list_nodes()}
        missing = [name for name in names if name not in nodes]
        if missing:
            raise ProviderError(f"{', '.join(missing)} vanished while starting; run the same command again.")
        starting = [name for name in names if nodes[name].state != "running"]
        if starting:
            raise NotRunningYet(starting)

    def delete_nodes(self, names):
        api = self.api
        with api_errors(api.project):
            operations = [api.if_exists(api.instances.delete, zone=self.options.zone, instance=name) for name in names]
            api.wait(operations, missing_ok=True)

    def cleanup(self):
        with api_errors(self.api.project):
            self.network.delete()

    def dynamic_inventory(self):
        return inventory.render(self.cluster, self.options)


def _node(instance):
    private, public = "", ""
    for interface in instance.network_interfaces[:1]:
        private = interface.network_i_p
        public = next((config.nat_i_p for config in interface.access_configs if config.nat_i_p), "")
    return Node(
        name=instance.name,
        role=instance.labels[TAG_ROLE],
        pool=instance.labels[TAG_POOL],
        address=public or private,
        private_address=private,
        state="running" if instance.status == "RUNNING" else instance.status.lower(),
    )
