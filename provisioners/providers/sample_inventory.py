"""The groups of the clouds' sample dynamic inventories, made from the vocabulary.

Each cloud's inventory plugin reads a machine's tags its own way (``tags`` on
AWS and Azure, ``labels`` on GCP); these keyed_groups put every machine in
its kind's group, under the cluster's groups, as hosts.yml does.
"""

import json

import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENTS_GROUP,
    CLUSTER_GROUP,
    KINDS,
    MASTER,
    TAG_POOL,
    TAG_ROLE,
)


def keyed_groups(tags):
    """The ``keyed_groups:`` YAML for a plugin whose host variable ``tags`` holds the machine's tags."""
    # Double quotes inside, so that YAML's single quotes around need no escapes.
    role, pool = f'{tags}["{TAG_ROLE}"]', f'{tags}["{TAG_POOL}"]'
    top = {kind.role: kind.group if kind.role == MASTER else AGENTS_GROUP for kind in KINDS}
    pools = {f"{kind.role}/{kind.pool}": kind.group for kind in KINDS if kind.role != MASTER}
    # No prefix and no separator: the group is the key itself. A master has no
    # pool group: its key is an empty list (no group), which strict mode takes,
    # where it refuses an empty string.
    entries = [
        {"key": f"{json.dumps(top)}[{role}]", "prefix": "", "separator": "", "parent_group": CLUSTER_GROUP},
        {
            "key": f'[{json.dumps(pools)}.get({role} ~ "/" ~ {pool}, "")] | select | list',
            "prefix": "",
            "separator": "",
            "parent_group": AGENTS_GROUP,
        },
    ]
    return yaml.safe_dump({"keyed_groups": entries}, sort_keys=False, width=1000)
