#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_node
short_description: Change or remove one member of a Flotilla (Docker swarm) cluster from a manager
description:
  - Runs on a healthy manager (C(delegate_to) a master) and changes the
    member named I(name) (its role, availability and labels), or drains it,
    or takes it out of the member list.
  - Joining and leaving are the node's own steps, made on the node with
    M(flotilla.cluster.cluster_membership).
  - Reads the member list first and changes nothing when the member already
    matches. Before any change of the managers it refuses one that would
    leave them without a majority of reachable members, or that starts while
    quorum is already lost, with the arithmetic in its message
    (I(allow_quorum_loss) overrides that); it warns when the result is an
    even number of managers.
version_added: 0.1.0
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
  name:
    description:
      - The member's hostname, as the swarm knows it, or the inventory name
        recorded on it with I(inventory_name).
    type: str
    required: true
  state:
    description:
      - C(present) the member has the given role, labels and availability.
      - C(drained) the same with availability C(drain), and its tasks run elsewhere.
      - C(absent) the node is not a member; a manager is demoted, a live node
        drained and, once it has left (M(flotilla.cluster.cluster_membership)
        on the node), removed; a node that is down is removed at once.
    type: str
    choices: [present, drained, absent]
    default: present
  role:
    description: C(master) is a swarm manager, C(agent) a worker; unchanged when omitted.
    type: str
    choices: [master, agent]
  availability:
    description: Whether the swarm may place tasks on the member (C(state=present) only); unchanged when omitted.
    type: str
    choices: [active, pause, drain]
  labels:
    description: Node labels to set, see I(labels_state).
    type: dict
  labels_state:
    description:
      - C(merge) sets I(labels) and keeps the member's other labels.
      - C(replace) makes I(labels) the member's only labels (plus the one of I(inventory_name)).
    type: str
    choices: [merge, replace]
    default: merge
  labels_to_remove:
    description: Label keys to take off the member.
    type: list
    elements: str
  inventory_name:
    description:
      - The node's name in the inventory, recorded on it as the label
        C(flotilla.name), so that playbooks find the member by that name
        whatever its hostname is.
    type: str
  allow_quorum_loss:
    description:
      - Make a change that the quorum guard refuses (including the promotion
        of a node that does not answer). The swarm may then stop accepting
        changes until a majority of managers is back.
    type: bool
    default: false
  force:
    description:
      - With I(state=absent), remove the node although it is still up and has
        not left (Docker's C(node rm --force)); its engine keeps a stale swarm state.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a promotion, a demotion, a drain or a leave to take effect.
    type: int
    default: 120
seealso:
  - module: flotilla.cluster.cluster_membership
  - module: flotilla.cluster.cluster_info
"""

EXAMPLES = r"""
- name: Make a joined node a master that runs no workloads
  flotilla.cluster.cluster_node:
    name: "{{ ansible_facts.nodename }}"
    inventory_name: "{{ inventory_hostname }}"
    role: master
    availability: drain
  delegate_to: "{{ flotilla_manager }}"

- name: Label a public agent, keeping its other labels
  flotilla.cluster.cluster_node:
    name: node-7
    role: agent
    labels:
      flotilla.pool: public

- name: Give a node exactly these labels
  flotilla.cluster.cluster_node:
    name: node-7
    labels: {flotilla.pool: private, zone: b}
    labels_state: replace

- name: Take a label off
  flotilla.cluster.cluster_node:
    name: node-7
    labels_to_remove: [zone]

- name: Move a node's tasks away before maintenance
  flotilla.cluster.cluster_node:
    name: node-7
    state: drained

- name: Remove a node that has left, or a dead one, from the member list
  flotilla.cluster.cluster_node:
    name: node-7
    state: absent
"""

RETURN = r"""
node:
  description:
    - The member after the change (in check mode, as it would be);
      C(member=false) alone when it is not one.
  returned: always
  type: dict
  sample:
    member: true
    id: 8x2wqk0n5h8d0cq7r8b3c9d1e
    hostname: demo-agent-1
    inventory_name: demo-agent-1
    role: agent
    availability: active
    state: ready
    reachability: null
    leader: false
    labels: {flotilla.pool: private}
    addr: 172.18.0.5
quorum:
  description: The managers before the change, as this manager counts them.
  returned: always
  type: dict
  sample: {managers: 3, reachable: 3, majority: 2, healthy: true}
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [promote, drain]
diff:
  description: The member before and after.
  returned: in diff mode
  type: dict
  sample: {before: {member: true, role: agent}, after: {member: true, role: master}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import (
    NOT_A_MEMBER,
    check_change,
    desired_member,
    find,
    quorum,
)
from ansible_collections.flotilla.cluster.plugins.module_utils.swarm import (
    SwarmError,
    Timeout,
    local_engine,
    wait_until,
)
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENT,
    MASTER,
    NAME_LABEL,
    SWARM_ROLE,
)


class Change:
    """One call's decision and its steps, on the member list of a manager."""

    def __init__(self, module, engine):
        self.module = module
        self.engine = engine
        self.params = module.params
        self.name = module.params["name"]
        self.actions = []

    def run(self):
        members = self.engine.members()
        target = find(members, self.name)
        before = target.summary() if target else dict(NOT_A_MEMBER)
        absent = self.params["state"] == "absent"
        after = self._absent(members, target) if absent else self._present(members, target)
        return {
            "changed": bool(self.actions),
            "actions": self.actions,
            "node": after,
            "quorum": quorum(members).as_dict(),
            "before": before,
        }

    def _guard(self, members, target, new_role):
        verdict = check_change(members, target.hostname, new_role, self.params["allow_quorum_loss"])
        for warning in verdict.warnings:
            self.module.warn(warning)
        if not verdict.allowed:
            self.module.fail_json(msg=verdict.message, quorum=quorum(members).as_dict())

    def _desired(self, target):
        labels = dict(self.params["labels"] or {})
        if self.params["inventory_name"]:
            labels[NAME_LABEL] = self.params["inventory_name"]
        availability = "drain" if self.params["state"] == "drained" else self.params["availability"]
        return desired_member(
            target,
            self.params["role"],
            availability,
            labels,
            self.params["labels_state"],
            self.params["labels_to_remove"] or (),
        )

    def _present(self, members, target):
        role = self.params["role"]
        if target is None:
            if self.module.check_mode:
                # The node's own join, before this task, would have made it one.
                self.actions.append("join")
                return {"member": True, "hostname": self.name, "role": role or AGENT}
            self.module.fail_json(
                msg=f"{self.name} is not a member of this swarm; join it first with "
                "flotilla.cluster.cluster_membership on the node itself."
            )
        desired = self._desired(target)
        if desired.role != target.role:
            if role == MASTER and target.state != "ready" and not self.params["allow_quorum_loss"]:
                target = self._wait_ready(target)
            self._guard(members, target, role)
            self.actions.append("promote" if role == MASTER else "demote")
        if desired.availability != target.availability:
            self.actions.append(desired.availability)
        if desired.labels != target.labels:
            self.actions.append("label")
        if self.module.check_mode:
            return desired.summary()
        # Read before draining: once drained, the node's tasks no longer show.
        draining = self.params["state"] == "drained" and target.state == "ready"
        services = self.engine.services_on(target) if draining else set()
        if desired != target:
            self.engine.update(desired)
            if desired.role != target.role:
                self.engine.wait_role(target.hostname, desired.role, self.params["timeout"])
        if draining:
            self.engine.wait_tasks_moved(target, services, self.params["timeout"])
        return self.engine.member_named(target.hostname).summary()

    def _wait_ready(self, target):
        """A node is promoted only once it answers: a new leader calls every node
        "unknown" until its first heartbeat, and a node promoted before it has
        reconnected still dials the managers it knew, some of them gone."""
        if self.module.check_mode:
            return target
        try:
            wait_until(
                lambda: self.engine.member_named(target.hostname).state == "ready",
                self.params["timeout"],
                f"{target.hostname} is ready",
            )
        except Timeout:
            self.module.fail_json(
                msg=f"refusing to promote {target.hostname}: it is {target.state}, and a manager that "
                "does not answer counts against the majority; bring it back first (or pass "
                "allow_quorum_loss: true)."
            )
        return self.engine.member_named(target.hostname)

    def _absent(self, members, target):
        if target is None:
            return dict(NOT_A_MEMBER)
        if target.manager:
            self._guard(members, target, None)
            self.actions.append("demote")
        live = target.state == "ready"
        if live and target.availability != "drain":
            self.actions.append("drain")
        self.actions.append("remove")
        if self.module.check_mode:
            return dict(NOT_A_MEMBER)
        services = self.engine.services_on(target) if live else set()
        if target.manager or target.availability != "drain":
            self.engine.update(desired_member(target, AGENT, "drain"))
            if target.manager:
                self.engine.wait_role(target.hostname, SWARM_ROLE[AGENT], self.params["timeout"])
        if live:
            self.engine.wait_tasks_moved(target, services, self.params["timeout"])
            self._wait_left(target)
        # A reused hostname leaves stale entries of earlier machines: all go.
        for entry in members:
            if entry.hostname == target.hostname:
                self.engine.remove(entry, force=self.params["force"])
        return dict(NOT_A_MEMBER)

    def _wait_left(self, target):
        if self.engine.wait_left(target.hostname, self.params["timeout"]):
            return
        if not self.params["force"]:
            raise SwarmError(
                f"{target.hostname} is still up and has not left the swarm; run "
                "flotilla.cluster.cluster_membership with state: left on it first, or pass "
                "force: true to remove it anyway"
            )
        self.module.warn(f"force: removing {target.hostname} while it still runs; its engine keeps a stale swarm state")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "drained", "absent"]),
            role=dict(type="str", choices=[MASTER, AGENT]),
            availability=dict(type="str", choices=["active", "pause", "drain"]),
            labels=dict(type="dict"),
            labels_state=dict(type="str", default="merge", choices=["merge", "replace"]),
            labels_to_remove=dict(type="list", elements="str"),
            inventory_name=dict(type="str"),
            allow_quorum_loss=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            timeout=dict(type="int", default=120),
        ),
        required_if=[("labels_state", "replace", ("labels",))],
        supports_check_mode=True,
    )
    params = module.params
    # What each state decides by itself, and so cannot take as an option too.
    fixed = {
        "present": (),
        "drained": ("availability",),
        "absent": ("role", "availability", "labels", "labels_to_remove"),
    }
    given = [key for key in fixed[params["state"]] if params[key] is not None]
    if given:
        module.fail_json(msg=f"state={params['state']} decides {', '.join(given)} itself; drop {', '.join(given)}.")
    engine = local_engine(module)
    if not engine.manager:
        module.fail_json(
            msg=f"this host ({engine.hostname}) is not a manager of a swarm: delegate the task to a "
            "healthy master (delegate_to: flotilla_manager)."
        )
    try:
        result = Change(module, engine).run()
    except SwarmError as err:
        module.fail_json(msg=str(err))
    before = result.pop("before")
    if module._diff:
        result["diff"] = {"before": before, "after": result["node"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
