"""After scale.yml: the first master and agent plus the two that joined."""


def names_in(inventory, *groups):
    return sorted(name for group in groups for name in inventory.get_hosts(group))


def test_every_machine_is_a_ready_member(inventory, members):
    assert sorted(members) == names_in(inventory, "all")
    assert {node["Status"]["State"] for node in members.values()} == {"ready"}


def test_masters_are_reachable_managers(inventory, members):
    managers = sorted(name for name, node in members.items() if node["Spec"]["Role"] == "manager")
    assert managers == names_in(inventory, "masters", "joining_masters")
    assert {members[name]["ManagerStatus"]["Reachability"] for name in managers} == {"reachable"}


def test_agents_are_workers(inventory, members):
    workers = sorted(name for name, node in members.items() if node["Spec"]["Role"] == "worker")
    assert workers == names_in(inventory, "agents", "joining_agents_private")


def test_exactly_one_leader(leaders):
    assert len(leaders) == 1, leaders


def test_masters_old_and_new_are_drained(inventory, members):
    masters = names_in(inventory, "masters", "joining_masters")
    assert {name: members[name]["Spec"]["Availability"] for name in masters} == dict.fromkeys(masters, "drain")


def test_agents_old_and_new_carry_their_pool_label(inventory, members):
    agents = names_in(inventory, "agents", "joining_agents_private")
    labels = {name: members[name]["Spec"].get("Labels", {}).get("flotilla.pool") for name in agents}
    assert labels == dict.fromkeys(agents, "private")
    assert {members[name]["Spec"]["Availability"] for name in agents} == {"active"}
