"""The bare metal provider: machines the user already runs, listed in their own inventory.

Bare metal cannot make or unmake machines, so the hand-written inventory is
the truth, as a cloud's tags are for the other providers:

    provider: baremetal
    masters: 3          # must be what the inventory lists: the spec and the
    agents: 2           # inventory never disagree about the cluster's shape
    public_agents: 0
    baremetal:
      inventory: path/to/hosts.yml    # YAML or INI; relative to where flotilla runs

The inventory is checked whole before anything runs (see inventory_check).
The cluster's hosts.yml is a copy of it, as YAML, with flotilla_cluster_name
added: the user's own variables say how to reach each machine (user, key,
port, jump host), so none of that is generated here and the cluster's own
SSH key goes unused. `flotilla down` only
forgets the cluster; the machines keep running, and flotilla never edits the
user's inventory.
"""

import dataclasses
import logging
from collections import Counter
from pathlib import Path

from provisioners.inventory_check import (
    check_inventory,
    cluster_hosts,
    format_problems,
    host_address,
    host_setting,
)
from provisioners.inventory_source import read_inventory
from provisioners.providers.base import Node, Provider, ProviderError

log = logging.getLogger(__name__)

ROLE_OF_GROUP = {
    "masters": ("master", "private"),
    "agents_private": ("agent", "private"),
    "agents_public": ("agent", "public"),
}
GROUP_OF_ROLE = {role_pool: group for group, role_pool in ROLE_OF_GROUP.items()}
SPEC_KEY_OF_GROUP = {"masters": "masters", "agents_private": "agents", "agents_public": "public_agents"}

HEADER = """\
# Copied by `flotilla provision` from {path} for cluster {name} (baremetal);
# it is rewritten on every run, so change {path} instead.
"""


@dataclasses.dataclass(frozen=True)
class BareMetalOptions:
    """Where the hand-written inventory is."""

    inventory: str

    def __post_init__(self):
        if not isinstance(self.inventory, str) or not self.inventory.strip():
            raise ValueError("'inventory' must be the path of an Ansible inventory file (YAML or INI).")
        # Absolute from here on, so that the spec saved with the cluster still
        # finds it when a later command runs from another directory.
        object.__setattr__(self, "inventory", str(Path(self.inventory).expanduser().absolute()))


class BareMetalProvider(Provider):
    Options = BareMetalOptions
    # The machines run already, and reaching them may take a port or a jump
    # host that only the inventory knows: preflight.yml checks that they
    # answer, with the inventory's own settings.
    boots_machines = False

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self._source = None

    @property
    def source(self):
        if self._source is None:
            self._source = read_inventory(self.options.inventory)
        return self._source

    def check(self):
        """Fail, listing every problem of the inventory one per line, each as path:line:."""
        problems = check_inventory(self.source, allow_even_masters=self.spec.allow_even_masters)
        if problems:
            raise ProviderError("\n".join(format_problems(self.source, problems)))

    def prepare(self):
        """There is nothing the machines share to create, but the spec must ask
        for what the inventory lists; only provision comes here, so `flotilla
        status` and `down` work whatever the counts."""
        listed = Counter(SPEC_KEY_OF_GROUP[host.group] for host in cluster_hosts(self.source))
        asked = {key: getattr(self.spec, key) for key in SPEC_KEY_OF_GROUP.values()}
        differ = [key for key in asked if asked[key] != listed[key]]
        if differ:
            raise ProviderError(
                f"the spec asks for {_counts(asked, differ)} but {self.options.inventory} lists "
                f"{_counts(listed, differ)}; bare metal takes its machines from the inventory, so add "
                f"or remove hosts there, or set {_counts(listed, differ)} in the spec."
            )

    def list_nodes(self):
        nodes = []
        for host in cluster_hosts(self.source):
            role, pool = ROLE_OF_GROUP[host.group]
            address = host_address(self.source, host.name)
            advertised = host_setting(self.source, host.name, "flotilla_advertise_address")
            nodes.append(
                Node(
                    name=host.name,
                    role=role,
                    pool=pool,
                    address=address,
                    private_address=advertised.value if advertised else address,
                    # Whether it runs is for preflight.yml to find out; the
                    # inventory only says that it is listed.
                    state="listed",
                )
            )
        return sorted(nodes, key=lambda node: node.name)

    def create_nodes(self, requests):
        """Bare metal cannot create machines. provision never asks (prepare has
        refused a spec that wants more than the inventory lists); any other
        caller learns where machines come from."""
        missing = Counter(GROUP_OF_ROLE[request.role, request.pool] for request in requests)
        wanted = ", ".join(f"{count} to group {group}" for group, count in missing.items())
        raise ProviderError(f"bare metal cannot create machines: add hosts ({wanted}) to {self.options.inventory}.")

    def delete_nodes(self, names):
        """Forget these machines: they keep running, and stay in the user's inventory."""
        if names:
            log.warning(
                "bare metal machines are never deleted; these keep running and stay listed in %s: %s",
                self.options.inventory,
                ", ".join(names),
            )

    def cleanup(self):
        """Nothing to delete: prepare made nothing."""

    def own_inventory(self):
        extra = {"flotilla_cluster_name": self.cluster}
        # The inventory passed check() with the spec's allowance; preflight.yml
        # must see the same.
        if self.spec.allow_even_masters:
            extra["flotilla_allow_even_masters"] = True
        header = HEADER.format(path=self.options.inventory, name=self.cluster)
        return header + self.source.as_yaml(extra)


def _counts(counts, keys):
    return ", ".join(f"{key}: {counts[key]}" for key in keys)
