# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's words and rules, defined once.

Everything that names a part of a Flotilla cluster or decides whether its
shape is safe lives here: the modules and the filter import it on the
controller and on the nodes, and the `flotilla` CLI and its providers import
it from the same collection. Plain data and arithmetic, no Ansible or Docker.

    kind_of_group("agents_public")   # Kind(role='agent', pool='public', ...)
    even_masters_problem(4)          # "4 masters tolerate no more failures than 3..."
"""

from __future__ import annotations

from dataclasses import dataclass

# Roles: a master is a swarm manager (control plane, Raft), an agent a worker.
MASTER = "master"
AGENT = "agent"
ROLES = (MASTER, AGENT)
SWARM_ROLE = {MASTER: "manager", AGENT: "worker"}

# Pools: where an agent's workloads are reachable from. Masters count as private.
PRIVATE = "private"
PUBLIC = "public"
POOLS = (PRIVATE, PUBLIC)

# The swarm node label that says an agent's pool.
POOL_LABEL = "flotilla.pool"


def pool_constraint(pool):
    """The swarm placement constraint that keeps a service's tasks in ``pool``."""
    return f"node.labels.{POOL_LABEL}=={pool}"


# The inventory's groups:  cluster > masters, agents > agents_private, agents_public
CLUSTER_GROUP = "cluster"
AGENTS_GROUP = "agents"


@dataclass(frozen=True)
class Kind:
    """One kind of node, and every name it goes by."""

    role: str
    pool: str
    group: str  # its inventory group
    count_key: str  # the cluster spec's key (and the CLI's flag) for how many
    name_prefix: str  # machines are named <cluster>-<name_prefix>-<n>

    @property
    def words(self):
        """How people say it: "masters", "private agents", "public agents"."""
        return self.count_key.replace("_", " ") if self.role == MASTER else f"{self.pool} agents"


KINDS = (
    Kind(MASTER, PRIVATE, group="masters", count_key="masters", name_prefix="master"),
    Kind(AGENT, PRIVATE, group="agents_private", count_key="agents", name_prefix="agent"),
    Kind(AGENT, PUBLIC, group="agents_public", count_key="public_agents", name_prefix="public"),
)
KIND_GROUPS = tuple(kind.group for kind in KINDS)
POOL_GROUPS = tuple(kind.group for kind in KINDS if kind.role == AGENT)


def kind_of(role, pool):
    return next(kind for kind in KINDS if (kind.role, kind.pool) == (role, pool))


def kind_of_group(group):
    return next(kind for kind in KINDS if kind.group == group)


# Tags (labels on GCP and Docker) on everything a provider creates; lower-case
# so that every platform accepts them as keys and values.
TAG_CLUSTER = "flotilla-cluster"
TAG_ROLE = "flotilla-role"
TAG_POOL = "flotilla-pool"
TAG_MANAGED_BY = "managed-by"
MANAGED_BY = "flotilla"


def node_tags(cluster, role, pool):
    return {TAG_CLUSTER: cluster, TAG_ROLE: role, TAG_POOL: pool, TAG_MANAGED_BY: MANAGED_BY}


def cluster_tags(cluster):
    """The tags of the resources the machines share (network, firewall)."""
    return {TAG_CLUSTER: cluster, TAG_MANAGED_BY: MANAGED_BY}


@dataclass(frozen=True)
class Traffic:
    """What the members of a swarm send each other; ``port`` is None for a
    protocol without ports."""

    protocol: str  # tcp | udp | esp
    port: int | None
    purpose: str


MANAGEMENT_PORT = 2377
SWARM_TRAFFIC = (
    Traffic("tcp", MANAGEMENT_PORT, "cluster management (managers)"),
    Traffic("tcp", 7946, "node gossip"),
    Traffic("udp", 7946, "node gossip"),
    Traffic("udp", 4789, "overlay network data (VXLAN)"),
    # IP protocol 50: the encrypted overlay networks' data.
    Traffic("esp", None, "encrypted overlay network data (IPsec ESP)"),
)


# Quorum: the managers agree (Raft) while a majority of them is reachable.
def majority(managers):
    return managers // 2 + 1


def tolerated_failures(managers):
    return (managers - 1) // 2 if managers > 0 else 0


def even_masters_problem(masters):
    """Why an even number of masters is a poor choice, or None for an odd one."""
    if masters <= 0 or masters % 2:
        return None
    failures = tolerated_failures(masters)
    return (
        f"{masters} masters tolerate {failures} failure{'s' if failures != 1 else ''}, "
        f"no more than {masters - 1} would, since {majority(masters)} must stay reachable"
    )


# The swarm node label on which the roles record a node's inventory name, so
# that playbooks find a member by that name whatever its hostname is.
NAME_LABEL = "flotilla.name"
