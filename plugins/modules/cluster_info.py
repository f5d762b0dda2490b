#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_info
short_description: Read a node's view of its Flotilla (Docker swarm) cluster
description:
  - Reports whether the host's engine belongs to a swarm and, on a manager
    that still has quorum, the member list, the quorum and the addresses
    other nodes join through.
  - Changes nothing.
version_added: 0.1.0
author: Flotilla developers
extends_documentation_fragment:
  - flotilla.cluster.swarm
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  join_tokens:
    description:
      - Also return the swarm's join tokens (managers only).
      - They are secrets. A result that holds them is hidden from every
        output at every verbosity, whatever the task's C(no_log) says (the
        module's action plugin marks it C(no_log)); the registered variable
        keeps them for M(flotilla.cluster.cluster_membership).
    type: bool
    default: false
seealso:
  - module: flotilla.cluster.cluster_node
  - module: flotilla.cluster.cluster_membership
"""

EXAMPLES = r"""
- name: Read each master's view of the swarm
  flotilla.cluster.cluster_info:
  register: swarm

- name: Read the join tokens from a healthy master
  flotilla.cluster.cluster_info:
    join_tokens: true
  delegate_to: "{{ flotilla_manager }}"
  run_once: true
  register: swarm_tokens
"""

RETURN = r"""
hostname:
  description: The engine's hostname, which is the node's name in the swarm.
  returned: always
  type: str
  sample: demo-master-1
member:
  description: Whether the engine belongs to a swarm.
  returned: always
  type: bool
manager:
  description: Whether it is a manager that can answer for the swarm.
  returned: always
  type: bool
swarm_id:
  description: The swarm's ID.
  returned: when I(member)
  type: str
routing_mesh:
  description:
    - Whether the kernel has IPVS, which the routing mesh (service VIPs and
      ingress-published ports) needs. Without it, publish ports with
      C(mode=host) and use C(--endpoint-mode dnsrr).
  returned: always
  type: bool
healthy:
  description: Whether this manager can read the member list (its swarm has quorum).
  returned: always
  type: bool
error:
  description: Why a manager could not read the member list.
  returned: when a manager is not healthy
  type: str
leader:
  description: Hostname of the Raft leader.
  returned: when I(healthy)
  type: str
quorum:
  description: Managers, reachable managers, the majority needed, and whether it is met.
  returned: when I(healthy)
  type: dict
  sample: {managers: 3, reachable: 3, majority: 2, healthy: true}
nodes:
  description: Every member, as in C(flotilla.cluster.cluster_node)'s C(node) return.
  returned: when I(healthy)
  type: list
  elements: dict
manager_addresses:
  description: C(host:port) of every reachable manager, to join through.
  returned: when I(healthy)
  type: list
  elements: str
join_tokens:
  description: The worker and manager join tokens; the whole result is then hidden from output.
  returned: when I(join_tokens) and I(healthy)
  type: dict
  sample: {worker: SWMTKN-1-..., manager: SWMTKN-1-...}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import quorum
from ansible_collections.flotilla.cluster.plugins.module_utils.swarm import (
    SwarmError,
    local_engine,
    routing_mesh_available,
)


def read(engine, with_tokens):
    result = {
        "hostname": engine.hostname,
        "member": engine.member,
        "manager": engine.manager,
        "healthy": False,
        "routing_mesh": routing_mesh_available(),
    }
    if engine.member:
        result["swarm_id"] = (engine.swarm.get("Cluster") or {}).get("ID", "")
    if not engine.manager:
        return result
    try:
        members = engine.members()
    except SwarmError as err:
        result["error"] = str(err)
        return result
    leaders = [m.hostname for m in members if m.leader]
    result.update(
        healthy=True,
        leader=leaders[0] if leaders else None,
        quorum=quorum(members).as_dict(),
        nodes=[m.summary() for m in sorted(members, key=lambda m: m.hostname)],
        manager_addresses=engine.manager_addresses(members),
    )
    if with_tokens:
        result["join_tokens"] = engine.join_tokens()
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(join_tokens=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    engine = local_engine(module)
    try:
        result = read(engine, module.params["join_tokens"])
    except SwarmError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
