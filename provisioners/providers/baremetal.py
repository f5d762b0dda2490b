"""The bare metal provider: machines the user already runs, listed in their own inventory.

Bare metal cannot make or unmake machines, so the hand-written inventory is
the truth, as a cloud's tags are for the other providers:

    provider: baremetal
    masters: 3          # must be what the inventory lists: the spec and the
    agents: 2           # inventory never disagree about the cluster's shape
    public_agents: 0
    baremetal:
      inventory: path/to/hosts.yml    # YAML or INI; relative to where flotilla runs

Ansible runs with that inventory as it is (``-i`` its path): its group_vars/
and host_vars/ apply, and `flotilla up` configures the machines exactly as
`ansible-playbook -i path/to/hosts.yml site.yml` does. Its hosts are read
with Ansible's own parser (`ansible-inventory --list`), so variables from
those directories count here too. The user's variables say how to reach each
machine (user, key, port, jump host): the cluster's generated key goes
unused. `flotilla down` only forgets the cluster; the machines keep running,
and flotilla never edits the user's inventory.
"""

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    CLUSTER_GROUP,
    KIND_GROUPS,
    KINDS,
    even_masters_problem,
    kind_of,
    kind_of_group,
)

from provisioners.inventory_check import names_itself
from provisioners.providers.base import Node, Provider, ProviderError

log = logging.getLogger(__name__)

MASTERS_GROUP = next(kind.group for kind in KINDS if kind.count_key == "masters")


@dataclasses.dataclass(frozen=True)
class BareMetalOptions:
    """Where the hand-written inventory is."""

    inventory: str

    def __post_init__(self):
        if not isinstance(self.inventory, str) or not self.inventory.strip():
            raise ValueError("'inventory' must be the path of an Ansible inventory (YAML or INI).")
        # Absolute from here on, so that the spec saved with the cluster still
        # finds it when a later command runs from another directory.
        object.__setattr__(self, "inventory", str(Path(self.inventory).expanduser().absolute()))


@dataclasses.dataclass(frozen=True)
class ListedInventory:
    """Ansible's reading of an inventory: each group's hosts (its children's
    included) and each host's variables (group_vars and host_vars included)."""

    groups: dict
    hostvars: dict

    def hosts(self, group):
        return self.groups.get(group, [])


def read_inventory(path):
    """``path`` as Ansible reads it, or one sentence saying it cannot."""
    if not Path(path).exists():
        raise ProviderError(f"the inventory {path} does not exist; set baremetal.inventory to your inventory's path.")
    command = [str(Path(sys.executable).parent / "ansible-inventory"), "-i", path, "--list"]
    # Without the first, Ansible reads an inventory it cannot parse as an
    # empty one; with a verbosity set by the user, it prints its version and
    # settings on stdout, before the JSON.
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true", "ANSIBLE_VERBOSITY": "0"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise ProviderError(
            f"Ansible cannot read the inventory {path} (`ansible-inventory -i {path} --list` says why); "
            f"`flotilla check-inventory {path}` points at the line to fix."
        )
    data = json.loads(result.stdout)

    def hosts_under(group, seen):
        if group in seen or group not in data:
            return []
        seen.add(group)
        hosts = list(data[group].get("hosts", []))
        for child in data[group].get("children", []):
            hosts += [host for host in hosts_under(child, seen) if host not in hosts]
        return hosts

    groups = {group: hosts_under(group, set()) for group in data if group != "_meta"}
    return ListedInventory(groups=groups, hostvars=data.get("_meta", {}).get("hostvars", {}))


class BareMetalProvider(Provider):
    Options = BareMetalOptions
    # The machines run already, and reaching them may take a port or a jump
    # host that only the inventory knows: preflight.yml checks that they
    # answer, with the inventory's own settings.
    boots_machines = False
    uses_cluster_key = False
    owns_machines = False

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self._listed = None

    @property
    def listed(self):
        if self._listed is None:
            self._listed = read_inventory(self.options.inventory)
        return self._listed

    def check(self):
        """Fail, listing every problem Ansible's reading of the inventory shows, one per line."""
        problems = inventory_problems(self.listed)
        if problems:
            problems.append(f"`flotilla check-inventory {self.options.inventory}` shows each problem's line.")
            raise ProviderError("\n".join(f"{self.options.inventory}: {problem}" for problem in problems))

    def prepare(self):
        """There is nothing the machines share to create, but the spec must ask
        for what the inventory lists; only provision comes here, so `flotilla
        status` and `down` work whatever the counts."""
        listed = Counter(kind_of(node.role, node.pool).count_key for node in self.list_nodes())
        asked = {kind.count_key: getattr(self.spec, kind.count_key) for kind in KINDS}
        differ = [key for key in asked if asked[key] != listed[key]]
        if differ:
            raise ProviderError(
                f"the spec asks for {_counts(asked, differ)} but {self.options.inventory} lists "
                f"{_counts(listed, differ)}; bare metal takes its machines from the inventory, so add "
                f"or remove hosts there, or set {_counts(listed, differ)} in the spec."
            )

    def list_nodes(self):
        nodes = []
        for group in KIND_GROUPS:
            kind = kind_of_group(group)
            for host in self.listed.hosts(group):
                variables = self.listed.hostvars.get(host, {})
                address = variables.get("ansible_host", host)
                nodes.append(
                    Node(
                        name=host,
                        role=kind.role,
                        pool=kind.pool,
                        address=address,
                        private_address=variables.get("flotilla_advertise_address", address),
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
        missing = Counter(kind_of(request.role, request.pool).group for request in requests)
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

    def inventory_path(self):
        return Path(self.options.inventory)


def inventory_problems(listed):
    """What keeps Flotilla's playbooks from using the inventory, one sentence each."""
    problems = []
    groups_of = {}
    for group in KIND_GROUPS:
        for host in listed.hosts(group):
            groups_of.setdefault(host, []).append(group)
    kinds = ", ".join(KIND_GROUPS)
    for host, groups in groups_of.items():
        if len(groups) > 1:
            problems.append(f"host '{host}' is in {' and '.join(groups)}; a host is in exactly one of {kinds}.")
        if host not in listed.hosts(CLUSTER_GROUP):
            problems.append(f"host '{host}' is in {groups[0]}, which is not under group '{CLUSTER_GROUP}'.")
        variables = listed.hostvars.get(host, {})
        if "ansible_host" not in variables and not names_itself(host):
            problems.append(
                f"host '{host}' has no ansible_host, and its name is neither an IP address nor a fully "
                "qualified domain name; set ansible_host to the address to reach it at."
            )
    for host in listed.hosts(CLUSTER_GROUP):
        if host not in groups_of:
            problems.append(f"host '{host}' is in none of {kinds}; list it in the one that gives it its role.")
    masters = listed.hosts(MASTERS_GROUP)
    if not masters:
        problems.append(f"group '{MASTERS_GROUP}' lists no host; a cluster needs at least one master.")
    even = even_masters_problem(len(masters))
    if even and not _allows_even_masters(listed.hostvars.get(masters[0], {})):
        problems.append(
            f"{even}; list an odd number, or set flotilla_allow_even_masters: true in the inventory if you mean it."
        )
    return problems


def _allows_even_masters(variables):
    # Ansible's own reading of true/yes/on/1, as the preflight's `| bool` does.
    from ansible.module_utils.parsing.convert_bool import boolean

    return boolean(variables.get("flotilla_allow_even_masters", False), strict=False)


def _counts(counts, keys):
    return ", ".join(f"{key}: {counts[key]}" for key in keys)
