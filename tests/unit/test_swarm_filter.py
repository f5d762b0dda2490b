import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.flotilla.cluster.plugins.filter.swarm import swarm_manager


def report(host, member=False, healthy=False, leader=None, swarm="s1"):
    return {"item": host, "hostname": host, "member": member, "healthy": healthy, "leader": leader, "swarm_id": swarm}


def test_an_existing_swarm_wins_over_inventory_order():
    results = [report("m1"), report("m2"), report("m3", member=True, healthy=True, leader="m3")]
    assert swarm_manager(results) == {"host": "m3", "bootstrap": False}


def test_the_leader_is_preferred_among_healthy_managers():
    results = [report("m1", True, True, "m2"), report("m2", True, True, "m2")]
    assert swarm_manager(results)["host"] == "m2"


def test_no_swarm_anywhere_founds_one_on_the_first_by_name():
    results = [report("m3"), report("m1"), report("m2")]
    assert swarm_manager(results) == {"host": "m1", "bootstrap": True}


def test_masters_that_could_not_be_read_take_no_part():
    results = [{"item": "m1", "unreachable": True}, {"item": "m2", "failed": False, "msg": "no docker"}, report("m3")]
    assert swarm_manager(results) == {"host": "m3", "bootstrap": True}


def test_lost_quorum_is_an_error_not_a_new_swarm():
    with pytest.raises(AnsibleFilterError, match="quorum"):
        swarm_manager([report("m1", member=True), report("m2", member=True)])


def test_two_swarms_are_an_error():
    with pytest.raises(AnsibleFilterError, match="different swarms"):
        swarm_manager([report("m1", True, True, "m1", "s1"), report("m2", True, True, "m2", "s2")])
