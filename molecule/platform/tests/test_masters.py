"""Masters: reachable managers that run no workload."""

testinfra_hosts = ["ansible://masters"]


def test_is_a_reachable_manager(member, engine_info):
    assert member["Spec"]["Role"] == "manager"
    assert member["ManagerStatus"]["Reachability"] == "reachable"
    assert engine_info["Swarm"]["ControlAvailable"] is True


def test_is_drained(member):
    assert member["Spec"]["Availability"] == "drain"
