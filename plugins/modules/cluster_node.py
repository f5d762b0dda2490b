#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_node
short_description: Add, change and remove one node of a Flotilla (Docker swarm) cluster without losing quorum
description:
  - Manages the membership of one node, named by I(name), in a running swarm.
  - Where the module runs decides what it can do, because Docker lets only a
    node join or leave by itself, and only a manager change the member list.
  - B(On the node itself) (its engine's hostname is I(name)), C(state=present)
    joins it as a worker with I(join_token) through I(managers), or creates a
    new swarm with I(bootstrap=true); C(state=absent) makes it leave.
  - B(On a healthy manager) (C(delegate_to) a master, which may be the node
    itself once it is a manager), C(state=present) gives
    the member its I(role), I(labels) and I(availability); C(state=drained)
    also moves its tasks away and waits until they run elsewhere;
    C(state=absent) demotes a manager, drains a live node, waits until it has
    left and removes it from the member list. A node that is down (a dead
    machine) is removed without having to leave.
  - Before any change of the managers it reads the membership and refuses a
    change that would leave the managers without a majority of reachable
    members, or that starts while quorum is already lost; it warns when the
    result is an even number of managers. I(force=true) overrides that.
  - Join tokens are never printed.
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
    description: Hostname of the node, as the swarm knows it.
    type: str
    required: true
  state:
    description:
      - C(present) the node is a member with the given role, labels and availability.
      - C(drained) the node is a member with availability C(drain) and no tasks left.
      - C(absent) the node is not a member.
    type: str
    choices: [present, drained, absent]
    default: present
  role:
    description: The node's role once a member; C(master) is a swarm manager, C(agent) a worker. Only on a manager.
    type: str
    choices: [master, agent]
  labels:
    description: Node labels to set; labels the node has and that are not named here are kept. Only on a manager.
    type: dict
  availability:
    description: Whether the swarm may place tasks on the node. Only on a manager, with I(state=present).
    type: str
    choices: [active, pause, drain]
  join_token:
    description: The swarm's worker join token, for C(state=present) on a node that is not a member yet.
    type: str
  managers:
    description: Addresses (C(host:2377)) of reachable managers to join through.
    type: list
    elements: str
  advertise_addr:
    description: Address the node announces to the other members; Docker picks one when omitted.
    type: str
  bootstrap:
    description: On the node, create a new swarm with it as the first manager when it belongs to none.
    type: bool
    default: false
  force:
    description:
      - Make a change that the quorum guard refuses, or remove a node that has not left.
      - The swarm may then stop accepting changes until a majority of managers is back.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a promotion, a drain or a leave to take effect.
    type: int
    default: 120
notes:
  - The node's entry in the diff shows its membership before and after.
seealso:
  - module: flotilla.cluster.cluster_info
"""

EXAMPLES = r"""
- name: Join this node as a worker
  flotilla.cluster.cluster_node:
    name: "{{ inventory_hostname }}"
    join_token: "{{ swarm.join_tokens.worker }}"
    managers: "{{ swarm.manager_addresses }}"
    advertise_addr: "{{ flotilla_advertise_address | default(omit) }}"

- name: Make it a master that runs no workloads
  flotilla.cluster.cluster_node:
    name: "{{ inventory_hostname }}"
    role: master
    availability: drain
  delegate_to: "{{ flotilla_manager }}"

- name: Label a public agent
  flotilla.cluster.cluster_node:
    name: node-7
    role: agent
    labels:
      flotilla.pool: public
  delegate_to: "{{ flotilla_manager }}"

- name: Move a node's tasks away before maintenance
  flotilla.cluster.cluster_node:
    name: node-7
    state: drained
  delegate_to: "{{ flotilla_manager }}"

- name: Remove a dead node from the member list
  flotilla.cluster.cluster_node:
    name: node-7
    state: absent
  delegate_to: "{{ flotilla_manager }}"
"""

RETURN = r"""
node:
  description:
    - The node's membership after the change (in check mode, as it would be).
    - On the node itself only C(member), C(id), C(hostname), C(role) and C(addr)
      are known; a manager reports all of them. C(member=false) alone when it is not one.
  returned: always
  type: dict
  sample:
    member: true
    id: 8x2wqk0n5h8d0cq7r8b3c9d1e
    hostname: demo-agent-1
    role: agent
    availability: active
    state: ready
    reachability: null
    leader: false
    labels: {flotilla.pool: private}
    addr: 172.18.0.5
quorum:
  description: The managers before the change, as a healthy manager counts them.
  returned: when the module runs on a manager
  type: dict
  sample: {managers: 3, reachable: 3, majority: 2, healthy: true}
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [promote, drain]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import (
    AGENT,
    MASTER,
    NOT_A_MEMBER,
    SWARM_ROLE,
    check_change,
    desired_member,
    find,
    quorum,
)
from ansible_collections.flotilla.cluster.plugins.module_utils.swarm import (
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    LocalEngine,
    SwarmError,
    wait_until,
)


class NodeSide:
    """The steps only the node itself can take: join (or found) and leave."""

    def __init__(self, module, engine):
        self.module = module
        self.engine = engine
        self.params = module.params

    def run(self):
        state = self.params["state"]
        if state == "drained":
            self.module.fail_json(
                msg=f"state=drained runs on a manager, not on {self.params['name']} itself: "
                "delegate the task to a healthy master."
            )
        ignored = [key for key in ("role", "labels", "availability") if self.params[key] is not None]
        if ignored:
            self.module.fail_json(
                msg=f"{', '.join(ignored)} can only be set from a manager: delegate this task to a healthy "
                "master, or drop them from the node's own join step."
            )
        joining = state == "present" and not self.engine.member
        if joining and not self.params["bootstrap"] and not (self.params["join_token"] and self.params["managers"]):
            self.module.fail_json(
                msg=f"{self.params['name']} is not a member yet: give join_token and managers "
                "(flotilla.cluster.cluster_info on a healthy master returns both)."
            )
        before = self._summary()
        actions = []
        if joining:
            actions.append("create swarm" if self.params["bootstrap"] else "join")
            if not self.module.check_mode:
                self._join()
        elif state == "absent" and self.engine.member:
            if self.engine.manager and not self.params["force"]:
                self._wait_demoted()
            actions.append("leave")
            if not self.module.check_mode:
                self.engine.leave(force=self.params["force"])

                def gone():
                    self.engine.refresh()
                    return not self.engine.member

                wait_until(gone, self.params["timeout"], f"{self.params['name']} has left the swarm")
        after = before
        if actions:
            after = {"member": state == "present"} if self.module.check_mode else self._summary()
        return {
            "changed": bool(actions),
            "actions": actions,
            "node": after,
            "diff": {"before": before, "after": after},
        }

    def _join(self):
        if self.params["bootstrap"]:
            self.engine.init(self.params["advertise_addr"])
        else:
            self.engine.join(self.params["managers"], self.params["join_token"], self.params["advertise_addr"])

        def active():
            self.engine.refresh()
            return self.engine.member

        wait_until(active, self.params["timeout"], f"{self.params['name']} is an active member")

    def _wait_demoted(self):
        """A node demoted a moment ago still acts as a manager until it has
        handed its Raft seat over; wait for that, but refuse a real manager."""
        if not self.engine.demotion_requested():
            self.module.fail_json(
                msg=f"{self.params['name']} is still a manager; demote it first from a healthy "
                "master (state=drained, role=agent) so that the managers keep their majority, "
                "or pass force=true."
            )

        def demoted():
            self.engine.refresh()
            return not self.engine.manager

        wait_until(demoted, self.params["timeout"], f"{self.params['name']} has handed its manager role over")

    def _summary(self):
        if not self.engine.member:
            return dict(NOT_A_MEMBER)
        swarm = self.engine.swarm
        return {
            "member": True,
            "id": swarm.get("NodeID"),
            "hostname": self.engine.hostname,
            "role": MASTER if self.engine.manager else AGENT,
            "addr": swarm.get("NodeAddr"),
        }


class ManagerSide:
    """The member list's changes, made through a healthy manager."""

    def __init__(self, module, engine):
        self.module = module
        self.engine = engine
        self.params = module.params
        self.name = module.params["name"]
        self.actions = []
        self.warnings = []

    def run(self):
        members = self.engine.members()
        target = find(members, self.name)
        result = {"quorum": quorum(members).as_dict()}
        before = target.summary() if target else dict(NOT_A_MEMBER)
        absent = self.params["state"] == "absent"
        after = self._absent(members, target) if absent else self._present(members, target)
        for warning in self.warnings:
            self.module.warn(warning)
        result.update(
            changed=bool(self.actions),
            actions=self.actions,
            node=after,
            diff={"before": before, "after": after},
        )
        return result

    def _guard(self, members, new_role):
        verdict = check_change(members, self.name, new_role, force=self.params["force"])
        self.warnings.extend(verdict.warnings)
        if not verdict.allowed:
            self.module.fail_json(msg=verdict.message, quorum=quorum(members).as_dict())

    def _present(self, members, target):
        state = self.params["state"]
        role = self.params["role"]
        availability = "drain" if state == "drained" else self.params["availability"]
        if target is None:
            if self.module.check_mode:
                # The node-side join before this task would have made it one.
                self.actions.append("join")
                return {"member": True, "hostname": self.name, "role": role or AGENT}
            self.module.fail_json(
                msg=f"{self.name} is not a member of this swarm; join it first by running this "
                "module on the node itself with join_token and managers."
            )
        # Docker keeps label values as strings; `rack: 3` must compare equal next time.
        labels = {str(k): str(v) for k, v in (self.params["labels"] or {}).items()}
        desired = desired_member(target, role, availability, labels)
        if desired.role != target.role:
            if role == MASTER and target.state != "ready" and not self.params["force"]:
                target = self._wait_ready(target)
            self._guard(members, role)
            self.actions.append("promote" if role == MASTER else "demote")
        if desired.availability != target.availability:
            self.actions.append(desired.availability)
        if desired.labels != target.labels:
            self.actions.append("label")
        if self.module.check_mode:
            return desired.summary()
        # Read before draining: once drained, the node's tasks no longer show.
        draining = state == "drained" and target.state == "ready"
        services = self.engine.services_on(target) if draining else set()
        if desired != target:
            self.engine.update(desired)
            if desired.role != target.role:
                self.engine.wait_role(self.name, desired.role, self.params["timeout"])
        if draining:
            self.engine.wait_tasks_moved(target, services, self.params["timeout"])
        return self.engine.member_named(self.name).summary()

    def _wait_ready(self, target):
        """A node is promoted only once it answers: a new leader calls every node
        "unknown" until its first heartbeat, and a node promoted before it has
        reconnected still dials the managers it knew, some of them gone."""
        if self.module.check_mode:
            return target
        try:
            wait_until(
                lambda: self.engine.member_named(self.name).state == "ready",
                self.params["timeout"],
                f"{self.name} is ready",
            )
            return self.engine.member_named(self.name)
        except SwarmError:
            pass
        self.module.fail_json(
            msg=f"refusing to promote {self.name}: it is {target.state}, and a manager that does not "
            "answer counts against the majority; bring it back first (or pass force: true)."
        )

    def _absent(self, members, target):
        if target is None:
            return dict(NOT_A_MEMBER)
        if target.manager:
            self._guard(members, None)
            self.actions.append("demote")
        if target.state == "ready" and target.availability != "drain":
            self.actions.append("drain")
        self.actions.append("remove")
        if self.module.check_mode:
            return dict(NOT_A_MEMBER)
        services = self.engine.services_on(target) if target.state == "ready" else set()
        if target.manager or target.availability != "drain":
            self.engine.update(desired_member(target, AGENT, "drain"))
            if target.manager:
                self.engine.wait_role(self.name, SWARM_ROLE[AGENT], self.params["timeout"])
        if target.state == "ready":
            self.engine.wait_tasks_moved(target, services, self.params["timeout"])
            self._wait_left()
        for entry in members:
            if entry.hostname == self.name:
                self.engine.remove(entry, force=self.params["force"])
        return dict(NOT_A_MEMBER)

    def _wait_left(self):
        if self.engine.wait_left(self.name, self.params["timeout"]):
            return
        if not self.params["force"]:
            raise SwarmError(
                f"{self.name} is still up and has not left the swarm; run this module on "
                f"{self.name} itself with state=absent first, or pass force=true to remove it anyway"
            )
        self.warnings.append(f"force: removing {self.name} while it still runs; its engine keeps a stale swarm state")


def _node_side(engine, params):
    """Whether this call is the node's own step (join, found, leave).

    A manager running the module for itself does the manager's part: it may
    change its own role, labels and availability like any other member's.
    """
    if engine.hostname != params["name"]:
        return False
    if params["state"] == "absent":
        return True
    return not engine.member or not engine.manager


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "drained", "absent"]),
            role=dict(type="str", choices=[MASTER, AGENT]),
            labels=dict(type="dict"),
            availability=dict(type="str", choices=["active", "pause", "drain"]),
            join_token=dict(type="str", no_log=True),
            managers=dict(type="list", elements="str"),
            advertise_addr=dict(type="str"),
            bootstrap=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            timeout=dict(type="int", default=120),
        ),
        mutually_exclusive=[("bootstrap", "join_token")],
        supports_check_mode=True,
    )
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker (python3-docker)"), exception=str(DOCKER_IMPORT_ERROR))
    try:
        engine = LocalEngine()
        if _node_side(engine, module.params):
            result = NodeSide(module, engine).run()
        elif engine.manager:
            result = ManagerSide(module, engine).run()
        else:
            module.fail_json(
                msg=f"this host ({engine.hostname}) is neither {module.params['name']} nor a manager "
                "of a swarm: run the module on the node itself or delegate it to a healthy master."
            )
    except SwarmError as err:
        module.fail_json(msg=str(err))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
