"""Every state of cluster_membership (on the node) and cluster_node (on a
manager), run through each module's main() against a fake Docker client:
check mode changes nothing, the diff comes only in diff mode, a second run
changes nothing, and Docker's errors are reported as errors."""

import json
from unittest import mock

import docker.errors
import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.flotilla.cluster.plugins.module_utils import swarm
from ansible_collections.flotilla.cluster.plugins.modules import cluster_info, cluster_membership, cluster_node

from tests.unit.fake_docker import TOKENS, FakeDocker, node

MANAGERS = ["10.0.0.2:2377"]


@pytest.fixture
def run(capsys):
    def run(module, client, check=False, diff=False, **args):
        args = {**args, "_ansible_check_mode": check, "_ansible_diff": diff}
        # Where warnings end up depends on what else the process imported
        # (the controller's display takes them), so they are read at the source.
        warned = []
        with (
            patch_module_args(args),
            mock.patch("docker.from_env", return_value=client),
            mock.patch.object(AnsibleModule, "warn", lambda _, msg: warned.append(msg)),
            pytest.raises(SystemExit),
        ):
            module.main()
        out = capsys.readouterr().out
        return {**json.loads(out), "warned": warned}, out

    return run


def member_of(client, hostname):
    return next((n for n in client.members.values() if n["Description"]["Hostname"] == hostname), None)


def three_masters_and_agents(**agent):
    return [
        node("m1", "manager", "drain", leader=True),
        node("m2", "manager", "drain"),
        node("m3", "manager", "drain"),
        node("a1", **agent),
    ]


# ---------------------------------------------------------------- node side


def four_ways(run, module, client, args, wanted):
    """check, apply, idempotent, idempotent + check; ``wanted`` reads the result from the fake."""
    checked, _ = run(module, client, check=True, **args)
    assert checked["changed"] and client.writes == [] and "diff" not in checked
    checked, _ = run(module, client, check=True, diff=True, **args)
    assert checked["changed"] and checked["diff"]["before"] != checked["diff"]["after"]
    assert client.writes == []
    applied, _ = run(module, client, diff=True, **args)
    assert applied["changed"] and wanted(client)
    writes = list(client.writes)
    again, _ = run(module, client, diff=True, **args)
    assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"]
    again, _ = run(module, client, check=True, diff=True, **args)
    assert not again["changed"] and client.writes == writes
    return applied


def test_found_a_swarm(run):
    client = FakeDocker("m1")
    result = four_ways(
        run, cluster_membership, client, {"state": "founded"}, lambda c: member_of(c, "m1")["Spec"]["Role"] == "manager"
    )
    assert result["actions"] == ["found"] and result["node"]["role"] == "master"
    assert [w[0] for w in client.writes] == ["init_swarm"]


def test_join_as_a_worker_and_never_show_the_token(run):
    client = FakeDocker("a1")
    args = {"state": "joined", "join_token": TOKENS["Worker"], "managers": MANAGERS}
    result = four_ways(run, cluster_membership, client, args, lambda c: member_of(c, "a1") is not None)
    assert result["node"]["role"] == "agent"
    assert client.writes == [
        (
            "join_swarm",
            {
                "remote_addrs": MANAGERS,
                "join_token": TOKENS["Worker"],
                "listen_addr": "0.0.0.0:2377",
                "advertise_addr": None,
            },
        )
    ]
    _, out = run(cluster_membership, client, **args)
    assert TOKENS["Worker"] not in out


def test_join_requires_a_token_and_managers(run):
    result, _ = run(cluster_membership, FakeDocker("a1"), state="joined")
    assert result["failed"] and "join_token" in result["msg"] and "managers" in result["msg"]


def test_leave_as_a_worker(run):
    client = FakeDocker("a1", [node("m1", "manager", leader=True), node("a1")])
    result = four_ways(
        run, cluster_membership, client, {"state": "left"}, lambda c: c.info()["Swarm"]["LocalNodeState"] == "inactive"
    )
    assert result["node"] == {"member": False}
    assert client.writes == [("leave_swarm", {"force": False})]


def test_a_manager_does_not_leave_before_its_demotion(run):
    client = FakeDocker("m2", [node("m1", "manager", leader=True), node("m2", "manager")])
    result, _ = run(cluster_membership, client, state="left")
    assert result["failed"] and "demote it first" in result["msg"]
    assert client.writes == []


def test_a_demoted_manager_hands_over_then_leaves(run):
    demoted = node("m2", "manager")
    demoted["Spec"]["Role"] = "worker"  # demotion asked, Raft seat not yet handed over
    client = FakeDocker("m2", [node("m1", "manager", leader=True), demoted])
    result, _ = run(cluster_membership, client, state="left")
    assert result["changed"] and client.writes == [("leave_swarm", {"force": False})]


class Demoting(FakeDocker):
    """A manager whose demotion finishes as its node is read: the control
    socket goes first, and the engine's info calls it a manager ``lag`` reads
    longer (seen in CI, Docker 20.10)."""

    def __init__(self, *args, lag):
        super().__init__(*args)
        self.lag = lag

    def inspect_node(self, node_id):
        self.demoted = True
        raise docker.errors.APIError("dial unix /var/run/docker/swarm/control.sock: connect: no such file")

    def info(self):
        if getattr(self, "demoted", False):
            if self.lag:
                self.lag -= 1
            else:
                self._me()["Spec"]["Role"] = "worker"
        return super().info()


def test_a_demotion_that_finishes_while_the_node_is_read_lets_it_leave(run, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)
    client = Demoting("m2", [node("m1", "manager", leader=True), node("m2", "manager")], lag=3)
    result, _ = run(cluster_membership, client, state="left")
    assert result["changed"] and client.writes == [("leave_swarm", {"force": False})]


def test_a_manager_that_cannot_read_its_node_and_stays_a_manager_does_not_leave(run, monkeypatch):
    monkeypatch.setattr(swarm, "DEMOTION_SETTLES", 0)
    client = Demoting("m2", [node("m1", "manager", leader=True), node("m2", "manager")], lag=1000)
    result, _ = run(cluster_membership, client, state="left")
    assert result["failed"] and result["msg"].startswith("could not read this node: dial unix")
    assert client.writes == []


def test_force_makes_a_manager_leave(run):
    client = FakeDocker("m2", [node("m1", "manager", leader=True), node("m2", "manager")])
    result, _ = run(cluster_membership, client, state="left", force=True)
    assert result["changed"] and client.writes == [("leave_swarm", {"force": True})]


def test_a_failed_leave_says_what_failed(run):
    client = FakeDocker("a1", [node("a1")], fail={"leave_swarm": "context deadline exceeded"})
    result, _ = run(cluster_membership, client, state="left")
    assert result["failed"]
    assert result["msg"] == "could not leave the swarm: context deadline exceeded"


# ------------------------------------------------------------- manager side


def test_cluster_node_runs_only_on_a_manager(run):
    client = FakeDocker("a1", [node("m1", "manager", leader=True), node("a1")])
    result, _ = run(cluster_node, client, name="a1", role="agent")
    assert result["failed"] and "not a manager" in result["msg"]


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ({"role": "master"}, lambda a: a["Spec"]["Role"] == "manager" and "ManagerStatus" in a),
        ({"availability": "pause"}, lambda a: a["Spec"]["Availability"] == "pause"),
        (
            {"labels": {"zone": "b", "rack": 3}},
            lambda a: a["Spec"]["Labels"] == {"keep": "x", "zone": "b", "rack": "3"},
        ),
        ({"labels": {"zone": "b"}, "labels_state": "replace"}, lambda a: a["Spec"]["Labels"] == {"zone": "b"}),
        ({"labels_to_remove": ["keep"]}, lambda a: a["Spec"]["Labels"] == {}),
        (
            {"inventory_name": "a1.dc1.example.test"},
            lambda a: a["Spec"]["Labels"]["flotilla.name"] == "a1.dc1.example.test",
        ),
        ({"state": "drained"}, lambda a: a["Spec"]["Availability"] == "drain"),
        ({"state": "absent"}, lambda a: a is None),
    ],
    ids=[
        "promote",
        "availability",
        "labels-merge",
        "labels-replace",
        "labels-remove",
        "inventory-name",
        "drained",
        "absent",
    ],
)
def test_each_state_four_ways(run, args, wanted):
    # The agent is down for `absent` (a dead machine), ready otherwise.
    state = "down" if args.get("state") == "absent" else "ready"
    client = FakeDocker("m1", three_masters_and_agents(labels={"keep": "x"}, state=state))
    four_ways(run, cluster_node, client, {"name": "a1", **args}, lambda c: wanted(member_of(c, "a1")))


def test_demote_back_to_agent(run):
    client = FakeDocker("m1", [*three_masters_and_agents()[:3], node("m4", "manager"), node("m5", "manager")])
    result = four_ways(
        run, cluster_node, client, {"name": "m5", "role": "agent"}, lambda c: "ManagerStatus" not in member_of(c, "m5")
    )
    assert result["actions"] == ["demote"] and result["quorum"]["managers"] == 5


def test_a_member_is_found_by_its_recorded_inventory_name(run):
    client = FakeDocker("m1", three_masters_and_agents(labels={"flotilla.name": "a1.dc1.example.test"}))
    result, _ = run(cluster_node, client, name="a1.dc1.example.test", availability="pause")
    assert result["changed"] and member_of(client, "a1")["Spec"]["Availability"] == "pause"


def test_removing_a_live_manager_while_another_is_dead_is_refused_with_the_arithmetic(run):
    members = [node("m1", "manager", leader=True), node("m2", "manager"), node("m3", "manager", state="down")]
    client = FakeDocker("m1", members)
    result, _ = run(cluster_node, client, name="m2", state="absent")
    assert result["failed"] and "1 reachable of 2 managers" in result["msg"] and "allow_quorum_loss" in result["msg"]
    assert result["quorum"] == {"managers": 3, "reachable": 2, "majority": 2, "healthy": True}
    assert client.writes == []


def test_allow_quorum_loss_overrides_the_guard_with_a_warning(run):
    members = [node("m1", "manager", leader=True), node("m2", "manager"), node("m3", "manager", state="down")]
    client = FakeDocker("m1", members)
    result, _ = run(cluster_node, client, name="m2", role="agent", allow_quorum_loss=True)
    assert result["changed"] and any(w.startswith("allow_quorum_loss:") for w in result["warned"])


def test_a_dead_manager_is_removed(run):
    members = [node("m1", "manager", leader=True), node("m2", "manager"), node("m3", "manager", state="down")]
    client = FakeDocker("m1", members)
    result, _ = run(cluster_node, client, name="m3", state="absent")
    assert result["actions"] == ["demote", "remove"] and member_of(client, "m3") is None


def test_a_live_node_that_has_not_left_is_not_removed(run):
    client = FakeDocker("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, name="a1", state="absent", timeout=1)
    assert result["failed"] and "has not left" in result["msg"] and "state: left" in result["msg"]
    assert member_of(client, "a1") is not None


def test_force_removes_a_live_node(run):
    client = FakeDocker("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, name="a1", state="absent", timeout=1, force=True)
    assert result["changed"] and member_of(client, "a1") is None
    assert ("remove_node", {"node_id": "id-a1", "force": True}) in client.writes
    assert any(w.startswith("force:") for w in result["warned"])


def test_a_member_list_that_cannot_be_read_while_waiting_is_that_error(run):
    class Failing(FakeDocker):
        def update_node(self, node_id, version, spec):
            super().update_node(node_id, version, spec)
            self.fail["nodes"] = "rpc error: quorum lost"

    client = Failing("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, name="a1", state="absent", timeout=1)
    assert result["failed"] and "quorum lost" in result["msg"] and "has not left" not in result["msg"]


def test_an_update_docker_refuses_is_an_error_not_no_change(run):
    client = FakeDocker("m1", three_masters_and_agents(), fail={"update_node": "update out of sequence"})
    result, _ = run(cluster_node, client, name="a1", availability="pause")
    assert result["failed"] and result["msg"] == "could not update the node: update out of sequence"


@pytest.mark.parametrize(
    ("args", "word"),
    [({"state": "absent", "role": "agent"}, "role"), ({"state": "drained", "availability": "active"}, "availability")],
)
def test_options_a_state_decides_itself_are_refused_before_anything(run, args, word):
    client = FakeDocker("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, name="a1", **args)
    assert result["failed"] and f"drop {word}" in result["msg"] and client.writes == []


def test_replace_needs_the_labels_to_keep(run):
    result, _ = run(cluster_node, FakeDocker("m1", three_masters_and_agents()), name="a1", labels_state="replace")
    assert result["failed"] and "labels" in result["msg"]


def test_a_node_not_yet_joined_is_an_error_outside_check_mode(run):
    client = FakeDocker("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, name="new", role="agent")
    assert result["failed"] and "cluster_membership" in result["msg"]
    checked, _ = run(cluster_node, client, check=True, name="new", role="agent")
    assert checked["changed"] and checked["actions"] == ["join"]


def test_absent_when_not_a_member_changes_nothing(run):
    client = FakeDocker("m1", three_masters_and_agents())
    result, _ = run(cluster_node, client, diff=True, name="gone", state="absent")
    assert not result["changed"] and result["diff"] == {"before": {"member": False}, "after": {"member": False}}


def test_cluster_info_returns_tokens_only_when_asked(run):
    client = FakeDocker("m1", three_masters_and_agents())
    plain, _ = run(cluster_info, client)
    assert "join_tokens" not in plain and plain["quorum"]["healthy"]
    asked, _ = run(cluster_info, client, join_tokens=True)
    assert asked["join_tokens"] == {"worker": TOKENS["Worker"], "manager": TOKENS["Manager"]}


def argument_spec(module):
    """The argument_spec the module's main() builds."""
    seen = {}

    def record(self, argument_spec, **kwargs):
        seen.update(argument_spec)
        raise SystemExit

    with mock.patch.object(AnsibleModule, "__init__", record), pytest.raises(SystemExit):
        module.main()
    return seen


@pytest.mark.parametrize("module", [cluster_node, cluster_membership, cluster_info], ids=lambda m: m.__name__)
def test_documentation_parses_and_matches_the_argument_spec(module):
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert isinstance(yaml.safe_load(module.EXAMPLES), list)
    assert all("returned" in value for value in yaml.safe_load(module.RETURN).values())
    spec = argument_spec(module)
    assert set(options) == set(spec)
    for name, option in spec.items():
        documented = options[name]
        assert documented["type"] == option["type"], name
        assert documented.get("default") == option.get("default"), name
        assert documented.get("choices") == option.get("choices"), name
