#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_membership
short_description: Found, join or leave a Flotilla (Docker swarm) cluster from the node itself
description:
  - The node's own part of its membership, which only the node can do in
    Docker (found a new swarm, join one as a worker, or leave it).
  - Changes to a member (role, availability, labels, removal) are made from a
    manager with M(flotilla.cluster.cluster_node).
  - Reads the engine's state first and changes nothing when it already
    matches I(state).
version_added: 0.2.0
author: Flotilla developers
extends_documentation_fragment:
  - flotilla.cluster.swarm
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  state:
    description:
      - C(founded) this node belongs to a swarm; when it belongs to none, it
        founds a new one and is its first manager.
      - C(joined) this node belongs to a swarm; when it belongs to none, it
        joins the swarm of I(managers) as a worker with I(join_token).
      - C(left) this node belongs to no swarm. A manager must be demoted
        first (or use I(force)).
    type: str
    choices: [founded, joined, left]
    default: joined
  join_token:
    description:
      - The swarm's worker join token, from M(flotilla.cluster.cluster_info) on a manager.
      - Required with I(state=joined); a secret, never shown.
    type: str
  managers:
    description:
      - Addresses (C(host:2377)) of reachable managers to join through, the leader first.
      - Required with I(state=joined).
    type: list
    elements: str
  advertise_addr:
    description: Address the node announces to the other members; Docker picks one when omitted.
    type: str
  force:
    description:
      - With I(state=left), leave although this node is still a manager
        (Docker's C(swarm leave --force)). The managers left behind may lose
        their majority; demote the node from a manager first instead.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a join, a foundation or a leave to take effect.
    type: int
    default: 120
seealso:
  - module: flotilla.cluster.cluster_node
  - module: flotilla.cluster.cluster_info
"""

EXAMPLES = r"""
- name: Found the swarm on the first master
  flotilla.cluster.cluster_membership:
    state: founded
    advertise_addr: "{{ flotilla_advertise_address }}"

- name: Read how to join (the result is hidden from every output, it holds the tokens)
  flotilla.cluster.cluster_info:
    join_tokens: true
  delegate_to: "{{ flotilla_manager }}"
  run_once: true
  register: swarm_access

- name: Join the swarm as a worker
  flotilla.cluster.cluster_membership:
    state: joined
    join_token: "{{ swarm_access.join_tokens.worker }}"
    managers: "{{ swarm_access.manager_addresses }}"

- name: Leave the swarm (a worker, or a manager demoted a moment ago)
  flotilla.cluster.cluster_membership:
    state: left
"""

RETURN = r"""
node:
  description:
    - This node's membership after the change (in check mode, as it would be).
    - C(member=false) alone when it belongs to no swarm.
  returned: always
  type: dict
  sample:
    member: true
    id: 8x2wqk0n5h8d0cq7r8b3c9d1e
    hostname: demo-agent-1
    role: agent
    addr: 172.18.0.5
actions:
  description: What the module did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: [join]
diff:
  description: The node's membership before and after.
  returned: in diff mode
  type: dict
  sample: {before: {member: false}, after: {member: true, role: agent}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import NOT_A_MEMBER
from ansible_collections.flotilla.cluster.plugins.module_utils.swarm import SwarmError, local_engine, wait_until
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import AGENT, MASTER


def summary(engine):
    if not engine.member:
        return dict(NOT_A_MEMBER)
    swarm = engine.swarm
    return {
        "member": True,
        "id": swarm.get("NodeID"),
        "hostname": engine.hostname,
        "role": MASTER if engine.manager else AGENT,
        "addr": swarm.get("NodeAddr"),
    }


def wait_member(engine, member, timeout, what):
    def settled():
        engine.refresh()
        return engine.member == member

    wait_until(settled, timeout, what)


def apply(module, engine):
    """Bring the node to the asked state; returns the result without diff."""
    params = module.params
    state = params["state"]
    before = summary(engine)
    wanted_member = state != "left"
    if engine.member == wanted_member:
        return {"changed": False, "actions": [], "node": before, "before": before}
    if state == "left" and engine.manager and not params["force"]:
        # Demoted a moment ago: it keeps its Raft seat until handed over.
        if not engine.demotion_requested():
            module.fail_json(
                msg=f"{engine.hostname} is a manager; demote it first from a healthy master "
                "(flotilla.cluster.cluster_node with role: agent) so that the managers keep "
                "their majority, or pass force: true."
            )
        if not module.check_mode:

            def demoted():
                engine.refresh()
                return not engine.manager

            wait_until(demoted, params["timeout"], f"{engine.hostname} has handed its manager role over")
    action = {"founded": "found", "joined": "join", "left": "leave"}[state]
    if module.check_mode:
        after = dict(NOT_A_MEMBER)
        if wanted_member:
            after = {"member": True, "hostname": engine.hostname, "role": MASTER if state == "founded" else AGENT}
        return {"changed": True, "actions": [action], "node": after, "before": before}
    if state == "founded":
        engine.init(params["advertise_addr"])
    elif state == "joined":
        engine.join(params["managers"], params["join_token"], params["advertise_addr"])
    else:
        engine.leave(force=params["force"])
    what = f"{engine.hostname} {'is an active member' if wanted_member else 'has left the swarm'}"
    wait_member(engine, wanted_member, params["timeout"], what)
    return {"changed": True, "actions": [action], "node": summary(engine), "before": before}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="joined", choices=["founded", "joined", "left"]),
            join_token=dict(type="str", no_log=True),
            managers=dict(type="list", elements="str"),
            advertise_addr=dict(type="str"),
            force=dict(type="bool", default=False),
            timeout=dict(type="int", default=120),
        ),
        required_if=[("state", "joined", ("join_token", "managers"))],
        supports_check_mode=True,
    )
    engine = local_engine(module)
    try:
        result = apply(module, engine)
    except SwarmError as err:
        module.fail_json(msg=str(err))
    before = result.pop("before")
    if module._diff:
        result["diff"] = {"before": before, "after": result["node"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
