"""The swarm as a whole: every machine a member, one leader."""


def test_every_machine_is_a_ready_member(inventory, members):
    assert sorted(members) == sorted(inventory.get_hosts("cluster"))
    assert {node["Status"]["State"] for node in members.values()} == {"ready"}


def test_exactly_one_leader(leaders):
    assert len(leaders) == 1, leaders
