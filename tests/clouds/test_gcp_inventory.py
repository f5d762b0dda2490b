"""The gcp_compute sample, read by the real google.cloud.gcp_compute plugin.

The plugin runs in this process, through Ansible's own InventoryManager, so
that its requests (token refresh, instances.aggregatedList with the sample's
filters) reach the Compute fake at the HTTP layer, like the provider's do.
"""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENTS_GROUP,
    CLUSTER_GROUP,
    KINDS,
    TAG_POOL,
    TAG_ROLE,
    kind_of,
)

from provisioners import cluster
from provisioners.spec import build_spec
from provisioners.workspace import Workspace

NAME = "ginv"


def read_inventory(path):
    """What ansible-inventory would show for ``path``: groups and host variables."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.vars.manager import VariableManager

    init_plugin_loader()
    from ansible.inventory.manager import InventoryManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {name: sorted(host.name for host in group.get_hosts()) for name, group in inventory.groups.items()}
    children = {name: sorted(child.name for child in group.child_groups) for name, group in inventory.groups.items()}
    hostvars = {host.name: variables.get_vars(host=host) for host in inventory.get_hosts()}
    return groups, children, hostvars


def test_the_sample_gives_the_groups_and_a_working_connection(gcp):
    spec = build_spec(
        {"name": NAME, "provider": "gcp", "masters": 1, "agents": 2, "public_agents": 1, "gcp": gcp.options()}
    )
    cluster.provision(spec, wait=False)
    machines = {m["name"]: m for m in gcp.machines(NAME)}
    # A machine of another cluster in the same zone, which the filters must leave out.
    cluster.provision(build_spec({**spec.to_dict(), "name": "gother", "agents": 0, "public_agents": 0}), wait=False)

    groups, children, hostvars = read_inventory(Workspace(NAME).path / "gcp_compute.yml")

    assert set(hostvars) == set(machines)
    assert children[CLUSTER_GROUP] == sorted({KINDS[0].group, AGENTS_GROUP})
    assert children[AGENTS_GROUP] == sorted(kind.group for kind in KINDS[1:])
    for kind in KINDS:
        wanted = [n for n, m in machines.items() if kind_of(m["tags"][TAG_ROLE], m["tags"][TAG_POOL]) == kind]
        assert groups[kind.group] == sorted(wanted), kind.group
    for name, machine in machines.items():
        assert hostvars[name]["ansible_host"] == machine["address"]
        assert hostvars[name]["ansible_user"] == spec.options.ssh_user
        # A bool, and true: the roles need root.
        assert hostvars[name]["ansible_become"] is True
