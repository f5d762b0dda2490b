"""The quorum guard and membership decisions, against recorded member lists."""

import pytest
from ansible_collections.flotilla.cluster.plugins.module_utils import membership
from ansible_collections.flotilla.cluster.plugins.module_utils.membership import (
    Member,
    check_change,
    desired_member,
    find,
    member_from_docker,
    quorum,
    quorum_after,
)
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import NAME_LABEL, even_masters_problem


def manager(name, reachable=True, leader=False):
    return Member(
        id=f"id-{name}",
        hostname=name,
        role="manager",
        availability="drain",
        state="ready" if reachable else "down",
        reachability="reachable" if reachable else "unreachable",
        leader=leader,
    )


def worker(name, ready=True, labels=None):
    return Member(
        id=f"id-{name}",
        hostname=name,
        role="worker",
        availability="active",
        state="ready" if ready else "down",
        labels=labels or {},
    )


THREE_HEALTHY = [manager("m1", leader=True), manager("m2"), manager("m3"), worker("a1"), worker("a2")]
THREE_ONE_DEAD = [manager("m1", leader=True), manager("m2"), manager("m3", reachable=False), worker("a1")]
TWO_ONE_DEAD = [manager("m1", leader=True), manager("m2", reachable=False), worker("a1")]
ONE = [manager("m1", leader=True), worker("a1")]


def test_quorum_counts_reachable_managers_only():
    q = quorum(THREE_ONE_DEAD)
    assert (q.managers, q.reachable, q.majority, q.healthy) == (3, 2, 2, True)
    assert not quorum(TWO_ONE_DEAD).healthy


@pytest.mark.parametrize(
    ("members", "host", "role", "expected"),
    [
        (THREE_HEALTHY, "m1", None, (2, 2)),
        (THREE_ONE_DEAD, "m3", None, (2, 2)),
        (THREE_ONE_DEAD, "m2", None, (2, 1)),
        (THREE_HEALTHY, "a1", "master", (4, 4)),
        (THREE_HEALTHY, "m2", "agent", (2, 2)),
        (THREE_HEALTHY, "a1", None, (3, 3)),
        (THREE_HEALTHY, "m1", "master", (3, 3)),
    ],
)
def test_quorum_after_a_change(members, host, role, expected):
    after = quorum_after(members, find(members, host), role)
    assert (after.managers, after.reachable) == expected


def test_removing_a_live_manager_of_three_healthy_is_allowed():
    verdict = check_change(THREE_HEALTHY, "m1", None)
    assert verdict.allowed
    assert any("2 managers" in w for w in verdict.warnings)


def test_removing_a_dead_manager_is_allowed():
    assert check_change(THREE_ONE_DEAD, "m3", None).allowed


def test_removing_a_live_manager_while_another_is_dead_is_refused_with_the_arithmetic():
    verdict = check_change(THREE_ONE_DEAD, "m2", None)
    assert not verdict.allowed
    assert "1 reachable of 2 managers" in verdict.message
    assert "needs 2" in verdict.message
    assert "allow_quorum_loss" in verdict.message


def test_any_change_is_refused_once_quorum_is_lost():
    for host, role in (("a1", "master"), ("m2", None), ("a1", None)):
        verdict = check_change(TWO_ONE_DEAD, host, role)
        assert not verdict.allowed
        assert "already lost quorum" in verdict.message


def test_allow_quorum_loss_turns_a_refusal_into_a_warning_that_says_the_risk():
    verdict = check_change(THREE_ONE_DEAD, "m2", None, allow_quorum_loss=True)
    assert verdict.allowed
    assert any(w.startswith("allow_quorum_loss:") and "quorum" in w for w in verdict.warnings)


def test_the_last_manager_cannot_go():
    verdict = check_change(ONE, "m1", None)
    assert not verdict.allowed
    assert "last manager" in verdict.message


def test_promotion_to_an_even_number_warns_in_the_vocabulary_s_words():
    verdict = check_change(ONE, "a1", "master")
    assert verdict.allowed
    assert verdict.warnings == (f"the swarm will have 2 managers: {even_masters_problem(2)}",)


def test_the_quorum_rule_is_the_vocabulary_s(monkeypatch):
    # membership.py keeps no copy of the rule: change the rule, and its answers change.
    monkeypatch.setattr(membership, "majority", lambda managers: managers)
    assert not quorum(THREE_ONE_DEAD).healthy
    monkeypatch.setattr(membership, "even_masters_problem", lambda managers: "odd rule")
    assert check_change(THREE_HEALTHY, "a1", "master", allow_quorum_loss=True).warnings[-1].endswith("odd rule")


def test_removing_a_worker_needs_no_warning():
    verdict = check_change(THREE_HEALTHY, "a1", None)
    assert verdict.allowed and verdict.warnings == ()


def test_find_prefers_the_live_entry_of_a_reused_hostname():
    stale = worker("a1", ready=False)
    live = Member(id="id-new", hostname="a1", role="worker", availability="active", state="ready")
    assert find([stale, live], "a1") is live
    assert find([stale, live], "nobody") is None


def test_find_knows_a_member_by_its_recorded_inventory_name():
    member = worker("host-17", labels={NAME_LABEL: "a1.dc1.example.test"})
    assert find([member], "a1.dc1.example.test") is member
    assert find([member], "host-17") is member
    assert member.summary()["inventory_name"] == "a1.dc1.example.test"
    assert worker("a2").summary()["inventory_name"] == "a2"


def test_desired_member_merges_labels_and_maps_roles():
    member = worker("a1", labels={"zone": "b"})
    desired = desired_member(member, "master", "drain", {"flotilla.pool": "private"})
    assert desired.role == "manager"
    assert desired.availability == "drain"
    assert desired.labels == {"zone": "b", "flotilla.pool": "private"}
    assert desired_member(member) == member


@pytest.mark.parametrize(
    ("labels", "state", "remove", "expected"),
    [
        ({"rack": 3}, "merge", (), {"zone": "b", "keep": "x", "rack": "3"}),
        ({"rack": 3}, "replace", (), {"rack": "3"}),
        ({}, "replace", (), {}),
        (None, "merge", ("zone",), {"keep": "x"}),
        ({"zone": "c"}, "merge", ("zone",), {"keep": "x"}),
    ],
)
def test_desired_labels_merge_replace_and_remove(labels, state, remove, expected):
    member = worker("a1", labels={"zone": "b", "keep": "x"})
    assert desired_member(member, labels=labels, labels_state=state, labels_to_remove=remove).labels == expected


def test_member_from_docker_reads_node_inspect():
    attrs = {
        "ID": "abc",
        "Description": {"Hostname": "m1"},
        "Spec": {"Role": "manager", "Availability": "drain", "Labels": {"x": "y"}},
        "Status": {"State": "ready", "Addr": "10.0.0.2"},
        "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "10.0.0.2:2377"},
    }
    member = member_from_docker(attrs)
    assert member.reachable and member.leader
    assert member.summary()["role"] == "master"
    assert member.summary()["labels"] == {"x": "y"}
