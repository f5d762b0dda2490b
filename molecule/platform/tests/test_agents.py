"""Agents: active workers labelled with their pool."""

testinfra_hosts = ["ansible://agents"]


def test_is_an_active_worker(member, engine_info):
    assert member["Spec"]["Role"] == "worker"
    assert member["Spec"]["Availability"] == "active"
    assert engine_info["Swarm"]["LocalNodeState"] == "active"
    assert engine_info["Swarm"]["ControlAvailable"] is False


def test_carries_its_pool_label(host, member):
    pool = "public" if "agents_public" in host.ansible.get_variables()["group_names"] else "private"
    assert member["Spec"]["Labels"]["flotilla.pool"] == pool
