"""The range SSH is open to is settled once and kept: a `scale` or a re-run
from another address (CI, home) locks nobody out. It changes when the spec
asks for another. Rules are read back through describe_security_groups."""

from unittest import mock

from provisioners import cluster
from provisioners.spec import build_spec
from provisioners.workspace import Workspace
from tests.clouds.aws_fake import tag_filter

NAME = "sshtest"
FIRST = "198.51.100.7/32"
SECOND = "192.0.2.99/32"


def spec_for(aws, agents=1, **options):
    # No ssh_cidr: the operator's public address decides, as by default.
    section = {key: value for key, value in aws.options().items() if key != "ssh_cidr"}
    return build_spec(
        {"name": NAME, "provider": "aws", "masters": 1, "agents": agents, "public_agents": 0, "aws": section | options}
    )


def operator_at(cidr):
    """This machine, as checkip.amazonaws.com would see it."""
    return mock.patch("provisioners.providers.aws.caller_cidr", return_value=cidr)


def ssh_sources(aws):
    groups = aws.ec2.describe_security_groups(Filters=tag_filter(NAME))["SecurityGroups"]
    return sorted(
        (group["GroupName"], r["CidrIp"])
        for group in groups
        for permission in group["IpPermissions"]
        if permission.get("FromPort") == 22
        for r in permission.get("IpRanges", [])
    )


def rules(aws):
    groups = aws.ec2.describe_security_groups(Filters=tag_filter(NAME))["SecurityGroups"]
    return sorted(str(sorted(map(str, group["IpPermissions"]))) for group in groups)


def test_the_range_is_settled_once_and_kept_in_the_saved_spec(aws):
    with operator_at(FIRST):
        cluster.provision(spec_for(aws), wait=False)

    assert ssh_sources(aws) == [(f"flotilla-{NAME}", FIRST)]
    assert Workspace(NAME).load_spec_data()["aws"]["ssh_cidr"] == FIRST


def test_a_rerun_from_another_address_keeps_the_rules(aws, tmp_path, monkeypatch):
    with operator_at(FIRST):
        cluster.provision(spec_for(aws), wait=False)
    before = rules(aws)

    # Another operator with the same spec file and no local files, one machine more.
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "ci"))
    with operator_at(SECOND):
        cluster.provision(spec_for(aws, agents=2), wait=False)

    assert len(aws.machines(NAME)) == 3
    assert rules(aws) == before
    assert ssh_sources(aws) == [(f"flotilla-{NAME}", FIRST)]


def test_a_scale_from_another_address_keeps_the_rules(aws, monkeypatch):
    # The fake's machines run no sshd, and no playbook: the rules are what is checked.
    monkeypatch.setattr(cluster.runner, "run_playbook", lambda *args, **kwargs: None)
    monkeypatch.setattr(cluster, "wait_for_ssh", lambda nodes: None)
    with operator_at(FIRST):
        cluster.provision(spec_for(aws), wait=False)
    before = rules(aws)

    saved = build_spec(Workspace(NAME).load_spec_data())
    with operator_at(SECOND):
        cluster.scale(saved, agents=2)

    assert len(aws.machines(NAME)) == 3
    assert rules(aws) == before


def test_the_range_changes_when_the_spec_asks(aws):
    with operator_at(FIRST):
        cluster.provision(spec_for(aws), wait=False)

    with operator_at(FIRST):
        cluster.provision(spec_for(aws, ssh_cidr=SECOND), wait=False)

    assert ssh_sources(aws) == [(f"flotilla-{NAME}", SECOND)]
    assert Workspace(NAME).load_spec_data()["aws"]["ssh_cidr"] == SECOND
