"""The aws_ec2.yml sample gives a working connection: the real amazon.aws.aws_ec2
plugin (ansible-inventory) reads it against moto's server, holding machines
the provider made, and finds the cluster's groups and each host's SSH
settings, become included (ansible-core 2.19 drops a compose entry that is
not a string expression)."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    AGENTS_GROUP,
    CLUSTER_GROUP,
    KINDS,
    MASTER,
    POOL_GROUPS,
)
from moto.server import ThreadedMotoServer

from provisioners import cluster
from provisioners.spec import build_spec
from provisioners.workspace import Workspace
from tests.clouds.aws_fake import AWS_VARIABLES, REGION, SSH_CIDR, seed_debian_images

NAME = "invtest"
BIN = Path(sys.executable).parent


@pytest.fixture
def env(tmp_path, monkeypatch):
    """moto's server, and an environment whose AWS SDKs (boto3 here and in
    ansible-inventory) find it and nothing of the developer's own."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # The server shares moto's state with the process: start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    seed_debian_images()
    empty = tmp_path / "empty"
    empty.touch()
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    variables = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_EC2": url,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "FLOTILLA_INVENTORIES": str(tmp_path / "inventories"),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    yield variables
    server.stop()


def test_the_aws_ec2_sample_gives_groups_and_a_connection(env, tmp_path):
    spec = build_spec(
        {
            "name": NAME,
            "provider": "aws",
            "masters": 1,
            "agents": 1,
            "public_agents": 1,
            "aws": {"region": REGION, "ssh_cidr": SSH_CIDR},
        }
    )
    cluster.provision(spec, wait=False)
    workspace = Workspace(NAME)
    written = yaml.safe_load(workspace.inventory_file.read_text())

    listed = subprocess.run(
        [BIN / "ansible-inventory", "-i", str(workspace.path / "aws_ec2.yml"), "--list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(listed.stdout)

    kinds = {kind.group: f"{NAME}-{kind.name_prefix}-1" for kind in KINDS}
    masters = next(kind.group for kind in KINDS if kind.role == MASTER)
    assert sorted(found[CLUSTER_GROUP]["children"]) == sorted([masters, AGENTS_GROUP])
    assert sorted(found[AGENTS_GROUP]["children"]) == sorted(POOL_GROUPS)
    for group, host in kinds.items():
        assert found[group]["hosts"] == [host]
    hostvars = found["_meta"]["hostvars"]
    # The same connection as hosts.yml, whose addresses were read from EC2.
    listed_hosts = {
        name: values
        for kind in written[CLUSTER_GROUP]["children"].values()
        for group in [kind, *kind.get("children", {}).values()]
        for name, values in (group.get("hosts") or {}).items()
    }
    assert set(hostvars) == set(kinds.values()) == set(listed_hosts)
    for host, values in hostvars.items():
        assert plain(values["ansible_host"]) == listed_hosts[host]["ansible_host"]
        assert plain(values["ansible_user"]) == "admin"
        assert values["ansible_become"] is True


def plain(value):
    """A string as Ansible meant it: --list marks one read from the cloud as unsafe (not to be templated)."""
    return value["__ansible_unsafe"] if isinstance(value, dict) else value
