# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pools' words for the roles, from the one vocabulary (documented in
pool_labels.yml and pool_constraint.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import POOL_LABEL, POOLS, pool_constraint


def _checked(pool):
    if pool not in POOLS:
        raise AnsibleFilterError(f"{pool!r} is not a pool (one of {', '.join(POOLS)})")
    return pool


def pool_labels(pool):
    """The node labels that put a node in ``pool``."""
    return {POOL_LABEL: _checked(pool)}


class FilterModule:
    def filters(self):
        return {"pool_labels": pool_labels, "pool_constraint": lambda pool: pool_constraint(_checked(pool))}
