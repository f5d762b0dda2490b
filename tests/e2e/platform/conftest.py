"""The platform's tests: one cluster with the scheduler services, shared.

The cluster lives while this package's tests run, and is taken down (and
checked gone) after them, before the other e2e modules make theirs.
"""

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from provisioners.apps import CREDENTIALS, scheduler_api
from provisioners.cli.options import where_from
from tests.e2e.conftest import Machines, cluster_up, flotilla

ROOT = Path(__file__).resolve().parents[3]
# The registry's account, as the scheduler role names it.
REGISTRY_USER = "flotilla"


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

    @property
    def credentials(self):
        """The secrets the role made, beside the inventory."""
        return self.machines.workspace.inventory_file.parent / CREDENTIALS

    def secrets(self):
        """{what: secret} for every secret the cluster has, in every form one may leak in."""
        password = (self.credentials / "registry-password").read_text().strip()
        return {
            "registry password": password,
            "registry password, as a Docker config holds it": base64.b64encode(
                f"{REGISTRY_USER}:{password}".encode()
            ).decode(),
            "API token": (self.credentials / "api-token").read_text(),
            "edge credential": (self.credentials / "edge-credential").read_text(),
        }

    def assert_no_secret(self, output):
        for what, secret in self.secrets().items():
            secret = secret.strip()
            assert len(secret) >= 20
            # Say where it leaked without printing it again.
            leaks = [line.replace(secret, "<SECRET>")[:300] for line in output.splitlines() if secret in line]
            assert leaks == [], f"the {what} is in the output:\n" + "\n".join(leaks)

    def verbose_site(self, extravars=None):
        """`ansible-playbook -i INVENTORY site.yml -vvv`, as a user of the checkout
        runs it; checked to pass and to show no secret. Returns {host: changed}."""
        inventory = self.machines.workspace.inventory_file
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "site.yml", "-vvv"]
        if extravars:
            command += ["-e", json.dumps(extravars)]
        # The checkout's settings, as a user of the checkout runs site.yml.
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        self.assert_no_secret(output)
        return {host: int(n) for host, n in re.findall(r"^(\S+)\s+:.*\bchanged=(\d+)", output, re.MULTILINE)}


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
