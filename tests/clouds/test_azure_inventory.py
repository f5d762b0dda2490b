"""The azure_rm.yml sample gives a working connection: the real
azure.azcollection.azure_rm plugin (see azure_inventory_runner for the one
part stood in for) reads it against the Azure fake, holding machines the
provider made, and finds the cluster's groups and each host's SSH settings,
become included."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENTS_GROUP,
    CLUSTER_GROUP,
    KINDS,
    MASTER,
    POOL_GROUPS,
)

from provisioners import cluster
from provisioners.workspace import Workspace
from tests.clouds import cli_runner
from tests.clouds.azure_fake import Harness
from tests.clouds.test_contract import NAME, spec_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def provisioned(tmp_path, monkeypatch):
    """A 1+1+1 cluster made by the provider; the account saved for the plugin's process."""
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "inventories"))
    account = tmp_path / "account.pickle"
    with Harness() as harness:
        cluster.provision(spec_for(harness, masters=1, agents=1, public_agents=1), wait=False)
        machines = harness.machines(NAME)
        cli_runner.save("azure", harness.fake, account)
    return account, Workspace(NAME).path / "azure_rm.yml", machines


def read_with_the_plugin(account, sample):
    ran = subprocess.run(
        [sys.executable, "-m", "tests.clouds.azure_inventory_runner", str(account), str(sample)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout)


def test_the_plugin_finds_the_groups_and_the_connection(provisioned):
    account, sample, machines = provisioned

    seen = read_with_the_plugin(account, sample)

    groups, hostvars = seen["groups"], seen["hostvars"]
    by_kind = {
        kind.group: sorted(
            m["name"]
            for m in machines
            if (m["tags"]["flotilla-role"], m["tags"]["flotilla-pool"]) == (kind.role, kind.pool)
        )
        for kind in KINDS
    }
    for kind in KINDS:
        assert groups[kind.group]["hosts"] == by_kind[kind.group], kind.group
    master_group = next(kind.group for kind in KINDS if kind.role == MASTER)
    assert groups[CLUSTER_GROUP]["children"] == sorted([master_group, AGENTS_GROUP])
    assert groups[AGENTS_GROUP]["children"] == sorted(POOL_GROUPS)
    assert sorted(hostvars) == sorted(m["name"] for m in machines)
    for machine in machines:
        host = hostvars[machine["name"]]
        assert host["ansible_host"] == machine["address"]
        assert host["ansible_user"] == "flotilla"
        assert host["ansible_become"] is True
        assert host["common_set_hostname"] is True
        assert host["flotilla_advertise_address"].startswith("10.42.")
