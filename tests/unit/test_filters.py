"""The filters the playbooks and roles use, on the data they receive."""

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.flotilla.cluster.plugins.filter.pools import FilterModule as PoolFilters
from ansible_collections.flotilla.cluster.plugins.filter.quorum import FilterModule as QuorumFilters
from ansible_collections.flotilla.cluster.plugins.filter.services import services_below
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import even_masters_problem


def listing(**running):
    """`docker service ls --format '{{json .}}'` lines, with "running/desired" replicas."""
    return [json.dumps({"ID": name[:3], "Name": name, "Replicas": replicas}) for name, replicas in running.items()]


def test_services_below_names_the_services_short_of_tasks():
    before = listing(web="2/2", api="3/3 (max 1 per node)", job="0/1 (1/1 completed)")
    assert services_below(listing(web="2/2", api="3/3", job="0/1"), before) == []
    assert services_below(listing(web="1/2", api="3/3", job="0/1"), before) == ["web (1 of 2 running)"]
    # A service gone counts as running none; a new one is no concern.
    assert services_below(listing(api="2/3", new="0/1"), before) == ["api (2 of 3 running)", "web (0 of 2 running)"]


def test_services_below_waits_only_for_what_ran_before():
    # A service already short before the restart is back when it is as short.
    assert services_below(listing(web="1/2"), listing(web="1/2")) == []
    assert services_below([], []) == []


def test_the_playbooks_filter_is_the_vocabularys_rule():
    assert QuorumFilters().filters()["even_masters_problem"] is even_masters_problem
    assert even_masters_problem(3) is None
    assert "4 masters tolerate 1 failure" in even_masters_problem(4)


def test_the_pool_label_the_agents_get_is_the_one_the_edge_and_the_scheduler_place_by():
    filters = PoolFilters().filters()
    ((key, value),) = filters["pool_labels"]("public").items()
    assert filters["pool_constraint"]("public") == f"node.labels.{key}=={value}"
    with pytest.raises(AnsibleFilterError, match="'edge' is not a pool"):
        filters["pool_labels"]("edge")
