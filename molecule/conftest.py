"""What the scenarios' testinfra tests share: the swarm as a manager records it.

The tests judge the swarm from its own records (`docker node inspect` on a
manager), not from what the playbooks reported.
"""

import json

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner


@pytest.fixture(scope="session")
def inventory(pytestconfig):
    """The Molecule inventory the tests run against."""
    return AnsibleRunner(pytestconfig.option.ansible_inventory)


@pytest.fixture(scope="session")
def manager(pytestconfig, inventory):
    """The first master; every master keeps the same records of the swarm."""
    first = inventory.get_hosts("masters")[0]
    return testinfra.get_host(f"ansible://{first}", ansible_inventory=pytestconfig.option.ansible_inventory)


@pytest.fixture(scope="session")
def members(manager):
    """Every member of the swarm by hostname, as `docker node inspect` shows it."""
    ids = manager.check_output("docker node ls --quiet").split()
    nodes = json.loads(manager.check_output("docker node inspect " + " ".join(ids)))
    return {node["Description"]["Hostname"]: node for node in nodes}


@pytest.fixture(scope="session")
def leaders(members):
    """The hostnames of the members that say they lead the managers."""
    return [name for name, node in members.items() if node.get("ManagerStatus", {}).get("Leader")]


@pytest.fixture
def member(host, members):
    """The swarm's record of the node under test (its hostname is its inventory name)."""
    return members[host.backend.get_hostname()]


@pytest.fixture
def engine_info(host):
    """`docker info` on the node under test."""
    return json.loads(host.check_output("docker info --format '{{json .}}'"))
