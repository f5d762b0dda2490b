"""`flotilla provision`, `status` and `down` on GCP and Azure as a user runs
them: each in a process of its own (through cli_runner, which holds the
fake), checked through the fake's list APIs."""

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.clouds import cli_runner
from tests.clouds.test_contract import expected_openings, spec_for

NAME = "clisub"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["gcp", "azure"])
def cloud(request):
    return request.param


def flotilla(cloud, account, tmp_path, *arguments):
    environment = {**os.environ, "FLOTILLA_INVENTORIES": str(tmp_path / "inventories")}
    return subprocess.run(
        [sys.executable, "-m", "tests.clouds.cli_runner", cloud, str(account), *arguments],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@contextlib.contextmanager
def read_account(cloud, account):
    """A harness in this process, given the account the last command left."""
    with importlib.import_module(f"tests.clouds.{cloud}_fake").Harness() as harness:
        cli_runner.load(cloud, harness.fake, account)
        yield harness


def test_provision_status_down(cloud, tmp_path):
    account = tmp_path / "account.pickle"
    harness = importlib.import_module(f"tests.clouds.{cloud}_fake").Harness()
    data = {"name": NAME, "provider": cloud, "masters": 1, "agents": 1, "public_agents": 1, cloud: harness.options()}
    spec_file = tmp_path / "spec.yml"
    spec_file.write_text(yaml.safe_dump(data))

    provisioned = flotilla(cloud, account, tmp_path, "provision", "--no-wait", "-f", str(spec_file))

    assert provisioned.returncode == 0, provisioned.stderr
    with read_account(cloud, account) as seen:
        machines = seen.machines(NAME)
        assert sorted((m["name"], m["tags"]["flotilla-role"], m["tags"]["flotilla-pool"]) for m in machines) == [
            (f"{NAME}-agent-1", "agent", "private"),
            (f"{NAME}-master-1", "master", "private"),
            (f"{NAME}-public-1", "agent", "public"),
        ]
        assert {m["state"] for m in machines} == {"running"}
        assert len(seen.networks(NAME)) == 1
        assert seen.openings(NAME) == expected_openings(spec_for(seen, name=NAME))
    workspace = Path(provisioned.stdout.strip()).parent
    hosts = yaml.safe_load((workspace / "hosts.yml").read_text())["cluster"]["children"]
    assert list(hosts["masters"]["hosts"]) == [f"{NAME}-master-1"]
    assert hosts["masters"]["hosts"][f"{NAME}-master-1"]["ansible_host"] == next(
        m["address"] for m in machines if m["name"] == f"{NAME}-master-1"
    )

    # A fresh clone: no key, so no SSH; the machines are found by their tags.
    shutil.rmtree(workspace)
    listed = flotilla(cloud, account, tmp_path, "status", "-f", str(spec_file))

    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:] if line.startswith(NAME)]
    assert sorted((row[0], row[1], row[2], row[3]) for row in rows) == sorted(
        (m["name"], m["tags"]["flotilla-role"], m["tags"]["flotilla-pool"], m["state"]) for m in machines
    )
    assert "SSH key" in listed.stdout

    gone = flotilla(cloud, account, tmp_path, "down", "-f", str(spec_file))
    again = flotilla(cloud, account, tmp_path, "down", "-f", str(spec_file))

    assert gone.returncode == 0, gone.stderr
    assert again.returncode == 0, again.stderr
    assert gone.stdout.strip() == f"cluster {NAME} is gone: {cloud} lists nothing of it."
    with read_account(cloud, account) as seen:
        assert seen.machines(NAME) == []
        assert seen.networks(NAME) == []
        assert seen.tagged_resources(NAME) == []
