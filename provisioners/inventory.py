"""The static Ansible inventory the providers that make machines write.

(Bare metal keeps the user's own inventory instead: see inventory_path.)

Groups: masters, and agents with children agents_private and agents_public,
all under cluster: the same groups a hand-written inventory uses, named by
the vocabulary.
"""

import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENTS_GROUP,
    CLUSTER_GROUP,
    KINDS,
    MASTER,
)

HEADER = """\
# Written by `flotilla provision` for cluster {name} ({provider});
# it is rewritten on every run, so change the cluster spec instead.
"""


def render(spec, nodes, key_file, known_hosts_file, ssh_user):
    def hosts(kind):
        return {node.name: _host_vars(node) for node in nodes if (node.role, node.pool) == (kind.role, kind.pool)}

    children = {kind.group: {"hosts": hosts(kind)} for kind in KINDS if kind.role == MASTER}
    children[AGENTS_GROUP] = {"children": {kind.group: {"hosts": hosts(kind)} for kind in KINDS if kind.role != MASTER}}
    inventory = {
        CLUSTER_GROUP: {
            "children": children,
            "vars": {
                "ansible_user": ssh_user,
                "ansible_ssh_private_key_file": str(key_file),
                # Every machine makes its own host key at first boot: the
                # first connection records it, and later ones check it.
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={known_hosts_file} -o StrictHostKeyChecking=accept-new"
                ),
                # Clouds log in as an unprivileged user; the roles need root.
                **({} if ssh_user == "root" else {"ansible_become": True}),
                "flotilla_allow_even_masters": spec.allow_even_masters,
                # Machines made for the cluster are named after their
                # inventory names (the role's default leaves a host's name,
                # which bare metal keeps).
                "common_set_hostname": True,
            },
        }
    }
    body = yaml.safe_dump(inventory, sort_keys=False, default_flow_style=False)
    return HEADER.format(name=spec.name, provider=spec.provider) + body


def _host_vars(node):
    host = {"ansible_host": node.address}
    if node.private_address and node.private_address != node.address:
        host["flotilla_advertise_address"] = node.private_address
    return host or None
