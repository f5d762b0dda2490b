"""playbooks/check-inventory.yml applies the vocabulary's odd-masters rule,
reading flotilla_allow_even_masters where the inventory sets it.

The checks run on the controller: the hosts need not exist.
"""

import pytest
import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import even_masters_problem

from provisioners import runner
from provisioners.errors import FlotillaError


def inventory(tmp_path, masters, cluster_vars=None, master_vars=None):
    data = {
        "cluster": {
            "children": {
                "masters": {"hosts": {f"m{i}": master_vars for i in range(1, masters + 1)}},
                "agents": {"children": {"agents_private": {"hosts": {"a1": None}}, "agents_public": {}}},
            },
            "vars": cluster_vars or {},
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_even_number_of_masters_is_refused_in_the_vocabularys_words(tmp_path):
    with pytest.raises(FlotillaError) as refused:
        runner.run_playbook(inventory(tmp_path, 2), "playbooks/check-inventory.yml")
    assert even_masters_problem(2) in str(refused.value)
    assert "set flotilla_allow_even_masters=true" in str(refused.value)


@pytest.mark.parametrize(
    ("masters", "cluster_vars", "master_vars"),
    [
        (3, None, None),
        (2, {"flotilla_allow_even_masters": True}, None),
        # Set on the masters only, where hostvars of the first one used to be read.
        (4, None, {"flotilla_allow_even_masters": "yes"}),
    ],
)
def test_odd_masters_or_the_flag_pass(tmp_path, masters, cluster_vars, master_vars):
    hosts = inventory(tmp_path, masters, cluster_vars, master_vars)
    assert runner.run_playbook(hosts, "playbooks/check-inventory.yml").rc == 0
