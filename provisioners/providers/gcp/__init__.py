"""The GCP provider: Compute Engine instances in a network of the cluster's own.

Every instance carries the cluster's labels, which are the only record of
which machines belong to it; the network and firewall rules carry the
cluster in their names (see network.py). Machines are created with one
bulkInsert per kind of node and deleted with one delete each, a few at a
time, and waited for by listing (instances, or their operations) rather
than by polling each machine's operation: a cluster of 100 costs about 1.5
requests per machine. google-cloud-compute is imported only inside
methods: the spec module imports this package to read GcpOptions.
"""

import functools
import logging
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
    node_tags,
)
from provisioners.providers.gcp import inventory
from provisioners.providers.gcp.api import OPERATION_TIMEOUT, ComputeApi
from provisioners.providers.gcp.errors import api_errors
from provisioners.providers.gcp.network import ClusterNetwork
from provisioners.providers.gcp.options import GcpOptions

BOOT_TIMEOUT = 300
# OS Login, where on, ignores the `ssh-keys` metadata the machines get.
OS_LOGIN = "enable-oslogin"
OS_LOGIN_CONSTRAINT = "constraints/compute.requireOsLogin"
# How Compute's guest environment reads a true metadata value.
TRUE_WORDS = ("true", "t", "1")

log = logging.getLogger(__name__)


class StillWaiting(Exception):
    """Some machines are still starting, or some operations still running; polled by a Retry."""

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
            # Before anything is created: the key must work on the machines.
            self.metadata_items = self._metadata_items()
            self.network.ensure()

    def _metadata_items(self):
        """The machines' metadata: the cluster's key in `ssh-keys`, and
        `enable-oslogin=FALSE` where the project turns OS Login on in its
        own metadata (an instance's value wins over the project's). Where an
        organization policy requires OS Login, Compute refuses that and the
        key cannot work: one sentence says so instead."""
        project = self.api.project
        if self.api.enforced(OS_LOGIN_CONSTRAINT):
            raise ProviderError(
                f"project {project} requires OS Login by organization policy ({OS_LOGIN_CONSTRAINT}), so its "
                "machines would refuse the cluster's SSH key: use a project where the policy is not enforced, "
                "or ask an organization policy administrator to exempt this one."
            )
        items = {"ssh-keys": f"{self.ssh_user}:{self.public_key.strip()}"}
        metadata = self.api.projects.get(project=project, retry=self.api.retry).common_instance_metadata
        if any(item.key == OS_LOGIN and item.value.strip().lower() in TRUE_WORDS for item in metadata.items):
            log.warning(
                "project %s turns OS Login on (%s=TRUE in its metadata), which would ignore the cluster's SSH key: "
                "the cluster's machines set %s=FALSE in their own metadata",
                project,
                OS_LOGIN,
                OS_LOGIN,
            )
            items[OS_LOGIN] = "FALSE"
        return items

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
        """One bulkInsert per kind of node (they differ in labels and tags),
        all at once, then one list a round until every machine runs."""
        kinds = {}
        for request in requests:
            kinds.setdefault((request.role, request.pool), []).append(request.name)
        starts = [functools.partial(self._bulk_insert, role, pool, names) for (role, pool), names in kinds.items()]
        with api_errors(self.api.project):
            self.api.run(starts)
        self._wait_running([request.name for request in requests])

    def _bulk_insert(self, role, pool, names):
        from google.cloud import compute_v1

        labels = node_tags(self.cluster, role, pool)
        properties = compute_v1.InstanceProperties(
            # bulkInsert takes the machine type's name, not its URL.
            machine_type=self.options.machine_type,
            labels=labels,
            tags=compute_v1.Tags(items=self.network.tags_for(pool)),
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
                items=[compute_v1.Items(key=key, value=value) for key, value in self.metadata_items.items()]
            ),
        )
        bulk = compute_v1.BulkInsertInstanceResource(
            # The names are the cluster's (<cluster>-agent-7, gaps filled), which
            # a namePattern's zero-padded numbers cannot give; all or none.
            count=len(names),
            min_count=len(names),
            per_instance_properties={
                name: compute_v1.BulkInsertInstanceResourcePerInstanceProperties(name=name) for name in names
            },
            instance_properties=properties,
        )
        # The request ID makes a retried call (after a rate limit) the same
        # call to Compute, never a second set of machines.
        request = compute_v1.BulkInsertInstanceRequest(
            project=self.api.project,
            zone=self.options.zone,
            bulk_insert_instance_resource_resource=bulk,
            request_id=str(uuid.uuid4()),
        )
        return self.api.instances.bulk_insert(request=request, retry=self.api.retry)

    def _wait_running(self, names):
        from google.api_core import exceptions

        try:
            _poll(BOOT_TIMEOUT)(self._raise_unless_running)(names)
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
            raise StillWaiting(starting)

    def delete_nodes(self, names):
        """One delete per machine (Compute has no bulk delete), at most
        ``api.parallel`` in flight, then one list of their operations a round."""
        api = self.api
        zone = self.options.zone
        starts = [functools.partial(api.if_exists, api.instances.delete, zone=zone, instance=name) for name in names]
        with api_errors(api.project):
            operations = [operation for operation in api.run(starts, wait=False) if operation is not None]
            if operations:
                _poll(OPERATION_TIMEOUT)(self._raise_unless_deleted)({operation.name for operation in operations})

    def _raise_unless_deleted(self, names):
        """Raise StillWaiting while any of the operations ``names`` runs, then
        the first one's error; a machine already gone counts as deleted."""
        from google.api_core import exceptions
        from google.cloud import compute_v1

        request = compute_v1.ListZoneOperationsRequest(
            project=self.api.project,
            zone=self.options.zone,
            # A regular expression on one field: the operations on this cluster's machines.
            filter=f'targetLink eq ".*/instances/{self.cluster}-.*"',
        )
        listed = [op for op in self.api.zone_operations.list(request=request, retry=self.api.retry) if op.name in names]
        done = [op for op in listed if op.status == compute_v1.Operation.Status.DONE]
        if len(done) < len(names):
            raise StillWaiting(sorted(names - {op.name for op in done}))
        for operation in done:
            codes = {error.code for error in operation.error.errors}
            if codes and codes != {"RESOURCE_NOT_FOUND"}:
                raise exceptions.from_http_status(
                    operation.http_error_status_code,
                    operation.http_error_message,
                    errors=list(operation.error.errors),
                )

    def cleanup(self):
        with api_errors(self.api.project):
            self.network.delete()

    def dynamic_inventory(self):
        return inventory.render(self.cluster, self.options)


def _poll(timeout):
    """A Retry that calls again while StillWaiting is raised: 1 s, then backing off to 10 s."""
    from google.api_core import retry

    return retry.Retry(predicate=retry.if_exception_type(StillWaiting), initial=1.0, maximum=10.0, timeout=timeout)


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
