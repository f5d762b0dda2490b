"""An image or instance type EC2 does not know is refused, and nothing is left behind.

The fake validates images, key pairs and instance types as EC2 does (see
aws_fake.py); what is left is read back through EC2's own describe calls.
"""

import pytest

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import build_spec

NAME = "vtest"


def provision(aws, **options):
    spec = build_spec(
        {
            "name": NAME,
            "provider": "aws",
            "masters": 1,
            "agents": 1,
            "public_agents": 0,
            "aws": {**aws.options(), **options},
        }
    )
    return cluster.provision(spec, wait=False)


@pytest.mark.parametrize(
    ("option", "value"),
    [("image", "ami-0123456789abcdef0"), ("instance_type", "t3.gigantic")],
)
def test_an_unknown_image_or_instance_type_is_refused_and_nothing_is_left(aws, option, value):
    with pytest.raises(FlotillaError) as refused:
        provision(aws, **{option: value})

    message = str(refused.value)
    assert "\n" not in message
    assert f"aws.{option} {value} is not" in message
    assert f"set aws.{option} to" in message
    assert aws.tagged_resources(NAME) == []
    reservations = aws.ec2.describe_instances()["Reservations"]
    assert [i["State"]["Name"] for r in reservations for i in r["Instances"]] == []
