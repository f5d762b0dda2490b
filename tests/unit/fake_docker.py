"""A fake of the Docker SDK client, as the membership modules use it.

It holds a swarm as the node-inspect attributes Docker returns (recorded
shape, trimmed), answers the reads the modules make, applies their writes
the way the engine does, and records every write, so that a test can say
what was changed and what was not.
"""

import copy

import docker.errors

SWARM_ID = "swarm-1"
TOKENS = {"Worker": "SWMTKN-1-fakeworkertoken", "Manager": "SWMTKN-1-fakemanagertoken"}


def node(hostname, role="worker", availability="active", state="ready", leader=False, labels=None, addr=None):
    """One member as `docker node inspect` describes it."""
    address = addr or f"10.0.0.{sum(map(ord, hostname)) % 200 + 2}"
    attrs = {
        "ID": f"id-{hostname}",
        "Version": {"Index": 10},
        "Spec": {"Role": role, "Availability": availability, "Labels": dict(labels or {})},
        "Description": {"Hostname": hostname},
        "Status": {"State": state, "Addr": address},
    }
    if role == "manager":
        reachability = "reachable" if state == "ready" else "unreachable"
        attrs["ManagerStatus"] = {"Leader": leader, "Reachability": reachability, "Addr": f"{address}:2377"}
    return attrs


class FakeDocker:
    """The client of the engine on ``hostname``; ``nodes`` is the swarm (empty: none)."""

    def __init__(self, hostname, nodes=(), fail=None):
        self.hostname = hostname
        self.members = {n["ID"]: copy.deepcopy(n) for n in nodes}
        self.fail = fail or {}  # method name -> explanation of an APIError it raises
        self.writes = []
        self.api = self

    # -- what the engine says about itself
    def _me(self):
        return next((n for n in self.members.values() if n["Description"]["Hostname"] == self.hostname), None)

    def info(self):
        me = self._me()
        if me is None or me["Status"]["State"] != "ready":
            return {"Name": self.hostname, "Swarm": {"LocalNodeState": "inactive"}}
        if me["Spec"]["Role"] == "worker" and "ManagerStatus" in me:
            # A demoted manager hands its Raft seat over shortly after.
            del me["ManagerStatus"]
        return {
            "Name": self.hostname,
            "Swarm": {
                "LocalNodeState": "active",
                "ControlAvailable": "ManagerStatus" in me,
                "NodeID": me["ID"],
                "NodeAddr": me["Status"]["Addr"],
                "Cluster": {"ID": SWARM_ID},
            },
        }

    # -- reads
    def nodes(self):
        self._maybe_fail("nodes")
        return copy.deepcopy(list(self.members.values()))

    def inspect_node(self, node_id):
        self._maybe_fail("inspect_node")
        return copy.deepcopy(self.members[node_id])

    def inspect_swarm(self):
        return {"ID": SWARM_ID, "JoinTokens": dict(TOKENS)}

    def tasks(self, filters=None):
        return []

    # -- writes
    def init_swarm(self, **kwargs):
        self._write("init_swarm", kwargs)
        self.members[f"id-{self.hostname}"] = node(self.hostname, "manager", leader=True)

    def join_swarm(self, **kwargs):
        self._write("join_swarm", kwargs)
        self.members[f"id-{self.hostname}"] = node(self.hostname)

    def leave_swarm(self, force=False):
        self._write("leave_swarm", {"force": force})
        self._me()["Status"]["State"] = "down"

    def update_node(self, node_id, version, spec):
        self._write("update_node", {"node_id": node_id, "spec": spec})
        attrs = self.members[node_id]
        attrs["Spec"] = copy.deepcopy(spec)
        if spec["Role"] == "manager" and "ManagerStatus" not in attrs:
            addr = attrs["Status"]["Addr"]
            attrs["ManagerStatus"] = {"Leader": False, "Reachability": "reachable", "Addr": f"{addr}:2377"}
        if spec["Role"] == "worker" and node_id != f"id-{self.hostname}":
            attrs.pop("ManagerStatus", None)

    def remove_node(self, node_id, force=False):
        self._write("remove_node", {"node_id": node_id, "force": force})
        if self.members[node_id]["Status"]["State"] == "ready" and not force:
            raise docker.errors.APIError("409", explanation=f"node {node_id} is not down and can't be removed")
        del self.members[node_id]

    def _write(self, name, args):
        self._maybe_fail(name)
        self.writes.append((name, args))

    def _maybe_fail(self, name):
        if name in self.fail:
            raise docker.errors.APIError("500", explanation=self.fail[name])
