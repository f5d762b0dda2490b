import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.flotilla.cluster.plugins.filter.swarm import member_names, swarm_manager


def report(host, member=False, healthy=False, leader=None, swarm="s1"):
    return {"hostname": host, "member": member, "healthy": healthy, "leader": leader, "swarm_id": swarm}


def choose(reports, hosts=None):
    """Run the filter as the discover tasks do, on each master's registered probe."""
    hostvars = {host: {"master_swarm": result} for host, result in reports.items()}
    return swarm_manager(hosts or sorted(reports), hostvars)


def test_an_existing_swarm_wins_over_inventory_order():
    reports = {"m1": report("m1"), "m2": report("m2"), "m3": report("m3", member=True, healthy=True, leader="m3")}
    assert choose(reports) == {"host": "m3", "bootstrap": False}


def test_the_leader_is_preferred_among_healthy_managers():
    reports = {"m1": report("m1", True, True, "m2"), "m2": report("m2", True, True, "m2")}
    assert choose(reports)["host"] == "m2"


def test_only_candidates_are_chosen():
    reports = {"m1": report("m1", True, True, "m1"), "m2": report("m2", True, True, "m1")}
    assert choose(reports, hosts=["m2"])["host"] == "m2"


def test_no_swarm_anywhere_founds_one_on_the_first_by_name():
    reports = {"m3": report("m3"), "m1": report("m1"), "m2": report("m2")}
    assert choose(reports) == {"host": "m1", "bootstrap": True}


def test_masters_that_could_not_be_read_take_no_part_in_the_choice():
    reports = {"m1": {"unreachable": True, "msg": "timed out"}, "m2": report("m2", True, True, "m2")}
    assert choose(reports) == {"host": "m2", "bootstrap": False}


def test_no_swarm_is_founded_while_a_master_could_not_be_read():
    # The unread master may be the one that holds the swarm.
    reports = {"m1": {"unreachable": True, "msg": "timed out"}, "m2": {"failed": False, "msg": "no docker"}}
    reports["m3"] = report("m3")
    with pytest.raises(AnsibleFilterError, match="m1: timed out; m2: no docker"):
        choose(reports)


def test_scale_and_remove_never_found_a_swarm():
    hostvars = {"m1": {"master_swarm": report("m1")}}
    with pytest.raises(AnsibleFilterError, match="site.yml first"):
        swarm_manager(["m1"], hostvars, allow_bootstrap=False)


def test_lost_quorum_is_an_error_not_a_new_swarm():
    with pytest.raises(AnsibleFilterError, match="quorum"):
        choose({"m1": report("m1", member=True), "m2": report("m2", member=True)})


def test_two_swarms_are_an_error():
    with pytest.raises(AnsibleFilterError, match="different swarms"):
        choose({"m1": report("m1", True, True, "m1", "s1"), "m2": report("m2", True, True, "m2", "s2")})


def test_member_names_are_hostnames_and_recorded_inventory_names():
    nodes = [
        {"hostname": "host-17", "inventory_name": "a1.dc1.example.test"},
        {"hostname": "m1", "inventory_name": "m1"},
        {"member": False},
    ]
    assert member_names(nodes) == ["a1.dc1.example.test", "host-17", "m1"]
