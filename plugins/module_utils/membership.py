# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Swarm membership as plain data, and the quorum guard on it.

Nothing here talks to Docker: the functions take the member list a manager
reported and decide, so they are tested against recorded states. The quorum
rule itself (majority, even numbers) lives in vocabulary.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENT,
    MASTER,
    NAME_LABEL,
    SWARM_ROLE,
    even_masters_problem,
    majority,
)


@dataclass(frozen=True)
class Member:
    id: str
    hostname: str
    role: str  # "manager" | "worker", as Docker names them
    availability: str  # "active" | "pause" | "drain"
    state: str  # "ready" | "down" | "unknown" | "disconnected"
    reachability: str | None = None  # managers only: "reachable" | "unreachable" | "unknown"
    leader: bool = False
    labels: dict = field(default_factory=dict)
    addr: str = ""
    # host:port of a manager's Raft endpoint; Status.Addr can be 0.0.0.0 on
    # managers promoted from workers, so joins go through this one.
    manager_addr: str = ""

    @property
    def manager(self):
        return self.role == SWARM_ROLE[MASTER]

    @property
    def reachable(self):
        return self.manager and self.reachability == "reachable"

    @property
    def inventory_name(self):
        """The inventory name the roles recorded on the node, else its hostname."""
        return self.labels.get(NAME_LABEL, self.hostname)

    def summary(self):
        """The member as the modules report it (and diff it)."""
        return {
            "member": True,
            "id": self.id,
            "hostname": self.hostname,
            "inventory_name": self.inventory_name,
            "role": MASTER if self.manager else AGENT,
            "availability": self.availability,
            "state": self.state,
            "reachability": self.reachability,
            "leader": self.leader,
            "labels": dict(sorted(self.labels.items())),
            "addr": self.addr,
        }


NOT_A_MEMBER = {"member": False}


def member_from_docker(attrs):
    """A Member from the attributes Docker's node inspect returns."""
    spec = attrs.get("Spec", {})
    status = attrs.get("Status", {})
    manager_status = attrs.get("ManagerStatus") or {}
    return Member(
        id=attrs["ID"],
        hostname=attrs.get("Description", {}).get("Hostname", ""),
        role=spec.get("Role", "worker"),
        availability=spec.get("Availability", "active"),
        state=status.get("State", "unknown"),
        reachability=manager_status.get("Reachability"),
        leader=bool(manager_status.get("Leader")),
        labels=dict(spec.get("Labels") or {}),
        addr=status.get("Addr", ""),
        manager_addr=manager_status.get("Addr", ""),
    )


def find(members, name):
    """The member known by ``name``: its hostname, or the inventory name the
    roles recorded on it (machines keep their own hostnames unless asked).
    A live entry wins over stale ones of a reused name."""
    matches = [m for m in members if name in (m.hostname, m.labels.get(NAME_LABEL))]
    matches.sort(key=lambda m: (m.state != "ready", m.id))
    return matches[0] if matches else None


@dataclass(frozen=True)
class Quorum:
    managers: int
    reachable: int

    @property
    def majority(self):
        return majority(self.managers)

    @property
    def healthy(self):
        return self.managers > 0 and self.reachable >= self.majority

    def describe(self):
        return f"{self.reachable} of {self.managers} managers reachable, {self.majority} needed"

    def as_dict(self):
        return {
            "managers": self.managers,
            "reachable": self.reachable,
            "majority": self.majority,
            "healthy": self.healthy,
        }


def quorum(members):
    managers = [m for m in members if m.manager]
    return Quorum(len(managers), sum(1 for m in managers if m.reachable))


def quorum_after(members, target, new_role):
    """The quorum once ``target`` has ``new_role`` (None: it is gone)."""
    now = quorum(members)
    was_manager = target is not None and target.manager
    will_be_manager = new_role == MASTER
    if was_manager == will_be_manager:
        return now
    if will_be_manager:
        # A promoted node answers at once: it is a live member being promoted.
        return Quorum(now.managers + 1, now.reachable + 1)
    return Quorum(now.managers - 1, now.reachable - (1 if target.reachable else 0))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    message: str = ""
    warnings: tuple = ()


def check_change(members, name, new_role, allow_quorum_loss=False):
    """May the node ``name`` take ``new_role`` (None: leave) safely?

    Refuses a change that starts while quorum is lost, or that would leave
    the managers without a majority of reachable members;
    ``allow_quorum_loss`` turns the refusal into a warning that says what it
    risks.
    """
    target = find(members, name)
    before = quorum(members)
    after = quorum_after(members, target, new_role)
    warnings = []
    problem = None
    if not before.healthy:
        problem = (
            f"the swarm has already lost quorum ({before.describe()}), so no membership "
            "change can be committed safely; bring unreachable managers back first"
        )
    elif after.managers == 0:
        problem = f"{name} is the last manager; the swarm would have none left"
    elif not after.healthy:
        problem = (
            f"{_describe_change(target, name, new_role)} would leave {after.reachable} "
            f"reachable of {after.managers} managers, and a swarm of {after.managers} "
            f"managers needs {after.majority} to keep working (now: {before.describe()}); "
            "remove dead managers or bring them back first"
        )
    if problem and allow_quorum_loss:
        warnings.append(f"allow_quorum_loss: {problem}; the swarm may stop accepting changes until quorum is restored")
        problem = None
    even = even_masters_problem(after.managers) if after != before else None
    if even:
        warnings.append(f"the swarm will have {after.managers} managers: {even}")
    if problem:
        return Verdict(False, f"refusing the change: {problem} (or pass allow_quorum_loss: true)", tuple(warnings))
    return Verdict(True, "", tuple(warnings))


def _describe_change(target, name, new_role):
    if new_role is None:
        return f"removing {'manager' if target and target.manager else 'node'} {name}"
    if new_role == MASTER:
        return f"promoting {name}"
    return f"demoting manager {name}"


def desired_member(member, role=None, availability=None, labels=None, labels_state="merge", labels_to_remove=()):
    """The member as it should be.

    ``labels`` are merged over the member's own, or replace them all with
    ``labels_state="replace"``; ``labels_to_remove`` go either way. Docker
    keeps label values as strings, so ``rack: 3`` compares equal next time.
    """
    wanted = {str(k): str(v) for k, v in (labels or {}).items()}
    base = {} if labels_state == "replace" else member.labels
    merged = {k: v for k, v in {**base, **wanted}.items() if k not in set(labels_to_remove)}
    return replace(
        member,
        role=SWARM_ROLE[role] if role else member.role,
        availability=availability or member.availability,
        labels=merged,
    )
