"""The platform's tests: one cluster with the scheduler services, shared.

The cluster lives while this package's tests run, and is taken down (and
checked gone) after them, before the other e2e modules make theirs.
"""

import os

import pytest

from provisioners.apps import scheduler_api
from provisioners.cli.options import where_from
from tests.e2e.conftest import Machines, cluster_up, flotilla


class Platform:
    """One cluster with the scheduler services, shared by every platform test.

    Each test leaves it as it found it (it removes the apps it deployed), so
    that the tests of every area can share one cluster's bootstrap.
    """

    def __init__(self, docker_client, name):
        self.name = name
        self.machines = Machines(docker_client, name)

    def run(self, *args):
        """`flotilla ARGS --name NAME`, as a user runs it."""
        return flotilla(*args, "--name", self.name)

    def api(self):
        return scheduler_api(where_from(None, name=self.name))


@pytest.fixture(scope="package")
def platform(docker_client):
    """The default shape (3 masters, 2 private agents, 1 public agent) made by
    `flotilla up`. FLOTILLA_E2E_KEEP=1 re-runs `up` on a cluster of that name if
    there is one, and leaves it up, to iterate quickly on one area."""
    name = os.environ.get("FLOTILLA_E2E_PLATFORM", "e2e-platform")
    if os.environ.get("FLOTILLA_E2E_KEEP") == "1":
        result = flotilla("up", "--name", name)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield Platform(docker_client, name)
        return
    with cluster_up(docker_client, name):
        yield Platform(docker_client, name)
