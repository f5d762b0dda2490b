"""How the machines are launched, read back from describe_instances."""

from provisioners import cluster
from provisioners.spec import build_spec
from tests.clouds.aws_fake import tag_filter

NAME = "ltest"


def test_every_machine_requires_imdsv2_tokens(aws):
    spec = build_spec(
        {"name": NAME, "provider": "aws", "masters": 1, "agents": 1, "public_agents": 1, "aws": aws.options()}
    )
    cluster.provision(spec, wait=False)

    reservations = aws.ec2.describe_instances(Filters=tag_filter(NAME))["Reservations"]
    options = [i["MetadataOptions"] for r in reservations for i in r["Instances"]]
    assert len(options) == 3
    # IMDSv1 answers any request that reaches it (SSRF); v2 only a PUT-obtained token.
    assert {(o["HttpTokens"], o["HttpEndpoint"]) for o in options} == {("required", "enabled")}
