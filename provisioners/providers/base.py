"""The one interface every provider implements, and the values it trades in.

A provider knows how to make and unmake machines on one platform. It keeps
no state of its own: the platform's tags (labels, on GCP and Docker) are the
truth, so every operation starts by looking them up and a re-run converges.
Nothing platform-specific (SDK objects, clients) leaves a provider.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

# The tags' names are the vocabulary's; they stay importable from here for
# code written against this module.
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (  # noqa: F401
    MANAGED_BY,
    TAG_CLUSTER,
    TAG_MANAGED_BY,
    TAG_POOL,
    TAG_ROLE,
    node_tags,
)

from provisioners.errors import FlotillaError


class ProviderError(FlotillaError):
    """A failure the user can act on; its text is one sentence that says how."""


@dataclass(frozen=True)
class NodeRequest:
    """A machine to create: its name, and where it belongs in the cluster."""

    name: str
    role: str
    pool: str

    def tags(self, cluster):
        return node_tags(cluster, self.role, self.pool)


@dataclass(frozen=True)
class Node:
    """A machine of the cluster as its platform reports it.

    ``state`` is "running" for a machine that is up; anything else is the
    platform's own word for it (e.g. "exited", "stopped", "pending").
    """

    name: str
    role: str
    pool: str
    address: str
    private_address: str
    state: str = "running"


class Provider(ABC):
    """Makes and unmakes one cluster's machines on one platform.

    ``spec`` is the validated ClusterSpec, ``options`` the provider's own
    section of it (already typed by ``Options``), ``public_key`` the OpenSSH
    public key that must be authorised for ``ssh_user`` on every machine it
    creates (None where this machine has no key for the cluster: listing and
    deleting need none).
    """

    #: dataclass of the provider's section in the cluster spec
    Options = None
    #: the user Ansible logs in as
    ssh_user = "root"
    #: options that say where the cluster lives: changing one would make a
    #: second cluster elsewhere and lose track of the first
    location_options = ()
    #: whether its machines may still be booting when create_nodes returns,
    #: so that provision waits for their sshd
    boots_machines = True
    #: whether Ansible reaches the machines with the cluster's generated key
    uses_cluster_key = True
    #: whether the machines are the provider's to delete (bare metal: the user's)
    owns_machines = True

    def __init__(self, spec, options, public_key):
        self.spec = spec
        self.options = options
        self.public_key = public_key

    @property
    def cluster(self):
        return self.spec.name

    def check(self):  # noqa: B027 - an optional hook: not every platform has anything to check
        """Fail with one clear sentence before anything is created
        (daemon not answering, credentials missing)."""

    @abstractmethod
    def prepare(self):
        """Create, or find, what the machines share: network, firewall, image."""

    @abstractmethod
    def list_nodes(self):
        """The cluster's machines that are not terminated, found by its tags."""

    @abstractmethod
    def create_nodes(self, requests):
        """Create the machines asked for; return once they all run."""

    @abstractmethod
    def delete_nodes(self, names):
        """Delete these machines; one already gone counts as deleted."""

    @abstractmethod
    def cleanup(self):
        """Delete what ``prepare`` made; what is already gone is fine."""

    def delete_cluster(self):
        """Delete every machine of the cluster, then what ``prepare`` made
        (`flotilla down`); a platform that can delete it all in one go does."""
        self.delete_nodes([node.name for node in self.list_nodes()])
        self.cleanup()

    def remains(self):
        """What of the cluster the platform still lists (machine names first,
        then shared resources), asked afresh: `flotilla down` says "gone" only
        when this is empty."""
        return [node.name for node in self.list_nodes()]

    def inventory_path(self):
        """The path of an inventory Ansible runs with as it is, instead of one
        written from the nodes' addresses; None where the provider has none."""
        return None

    def dynamic_inventory(self):
        """``(file name, YAML text)`` of a sample inventory for the cloud's own
        Ansible inventory plugin, keyed on the same tags; None where there is none."""
        return None
