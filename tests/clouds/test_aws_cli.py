"""`flotilla provision` and `flotilla down` on AWS as a user runs them: each in
a process of its own, against moto's server, checked through EC2's own API."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from tests.clouds.aws_fake import AWS_VARIABLES, NEWEST_DEBIAN, REGION, SSH_CIDR, seed_debian_images, tag_filter

NAME = "clitest"
BIN = Path(sys.executable).parent


@pytest.fixture
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # The server shares moto's state with the process: start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    seed_debian_images()
    yield url
    server.stop()


@pytest.fixture
def env(endpoint, tmp_path):
    empty = tmp_path / "empty"
    empty.touch()
    variables = {k: v for k, v in os.environ.items() if k not in AWS_VARIABLES}
    variables.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL_EC2=endpoint,
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        FLOTILLA_INVENTORIES=str(tmp_path / "inventories"),
    )
    return variables


@pytest.fixture
def ec2(endpoint):
    return boto3.client(
        "ec2", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def flotilla(env, cwd, *args):
    return subprocess.run(
        [BIN / "flotilla", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def live_instances(ec2):
    reservations = ec2.describe_instances(Filters=tag_filter(NAME))["Reservations"]
    return [i for r in reservations for i in r["Instances"] if i["State"]["Name"] != "terminated"]


def test_provision_then_down(env, ec2, tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text(
        yaml.safe_dump({"name": NAME, "masters": 1, "agents": 1, "public_agents": 1, "aws": {"ssh_cidr": SSH_CIDR}})
    )

    provisioned = flotilla(env, tmp_path, "provision", "--no-wait", "--provider", "aws", "-f", str(spec))

    assert provisioned.returncode == 0, provisioned.stderr
    instances = live_instances(ec2)
    tags = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i["Tags"]} for i in instances}
    assert sorted((t["Name"], t["flotilla-role"], t["flotilla-pool"]) for t in tags.values()) == [
        (f"{NAME}-agent-1", "agent", "private"),
        (f"{NAME}-master-1", "master", "private"),
        (f"{NAME}-public-1", "agent", "public"),
    ]
    assert {t["managed-by"] for t in tags.values()} == {"flotilla"}
    assert {i["ImageId"] for i in instances} == {NEWEST_DEBIAN}
    assert {i["KeyName"] for i in instances} == {f"flotilla-{NAME}"}
    workspace = Path(provisioned.stdout.strip()).parent
    hosts = yaml.safe_load((workspace / "hosts.yml").read_text())["cluster"]["children"]
    assert list(hosts["masters"]["hosts"]) == [f"{NAME}-master-1"]

    listed = subprocess.run(
        [BIN / "ansible-inventory", "-i", str(workspace / "aws_ec2.yml"), "--list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    groups = json.loads(listed.stdout)
    assert sorted(groups["cluster"]["children"]) == ["agents", "masters"]
    assert sorted(groups["agents"]["children"]) == ["agents_private", "agents_public"]
    assert groups["masters"]["hosts"] == [f"{NAME}-master-1"]
    assert groups["agents_private"]["hosts"] == [f"{NAME}-agent-1"]
    assert groups["agents_public"]["hosts"] == [f"{NAME}-public-1"]

    gone = flotilla(env, tmp_path, "down", "--name", NAME)

    assert gone.returncode == 0, gone.stderr
    assert live_instances(ec2) == []
    assert ec2.describe_vpcs(Filters=tag_filter(NAME))["Vpcs"] == []
    assert ec2.describe_security_groups(Filters=tag_filter(NAME))["SecurityGroups"] == []
    assert ec2.describe_key_pairs(Filters=tag_filter(NAME))["KeyPairs"] == []
    assert not workspace.exists()


def test_down_from_a_fresh_clone_given_only_the_spec(env, ec2, tmp_path):
    spec = tmp_path / "prod.yml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": NAME,
                "provider": "aws",
                "masters": 1,
                "agents": 0,
                "public_agents": 0,
                "aws": {"ssh_cidr": SSH_CIDR},
            }
        )
    )
    provisioned = flotilla(env, tmp_path, "provision", "--no-wait", "-f", str(spec))
    assert provisioned.returncode == 0, provisioned.stderr
    assert len(live_instances(ec2)) == 1
    # Another machine, or a fresh clone: none of the cluster's files.
    workspace = Path(provisioned.stdout.strip()).parent
    shutil.rmtree(workspace)

    listed = flotilla(env, tmp_path, "status", "-f", str(spec))
    gone = flotilla(env, tmp_path, "down", "--name", NAME, "-f", str(spec))
    again = flotilla(env, tmp_path, "down", "-f", str(spec))

    assert listed.returncode == 0, listed.stderr
    assert f"{NAME}-master-1  master  private  running" in listed.stdout
    assert gone.returncode == 0, gone.stderr
    assert again.returncode == 0, again.stderr
    assert gone.stdout.strip() == f"cluster {NAME} is gone: aws lists nothing of it."
    assert live_instances(ec2) == []
    assert ec2.describe_vpcs(Filters=tag_filter(NAME))["Vpcs"] == []
    assert ec2.describe_security_groups(Filters=tag_filter(NAME))["SecurityGroups"] == []
    assert ec2.describe_key_pairs(Filters=tag_filter(NAME))["KeyPairs"] == []
    assert not workspace.exists()
