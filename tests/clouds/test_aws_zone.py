"""The subnet's zone offers the instance type, or the user is told before anything is made.

EC2 places a subnet made without a zone where it likes, and not every zone
offers every type; the fake refuses such a launch as EC2 does ("Unsupported")
and puts a zoneless subnet in the zone that offers least (see aws_fake.py).
"""

import pytest

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import SpecError, build_spec
from tests.clouds.aws_fake import fewest_types_zone

NAME = "ztest"
INSTANCE_TYPE = "t3.medium"
CLUSTER_TAGS = [{"Key": "flotilla-cluster", "Value": NAME}, {"Key": "managed-by", "Value": "flotilla"}]


def spec_for(aws, **options):
    return build_spec(
        {
            "name": NAME,
            "provider": "aws",
            "masters": 1,
            "agents": 1,
            "public_agents": 0,
            "aws": {**aws.options(), "instance_type": INSTANCE_TYPE, **options},
        }
    )


def offering_zones(aws):
    offerings = aws.ec2.describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [INSTANCE_TYPE]}]
    )["InstanceTypeOfferings"]
    return {offering["Location"] for offering in offerings}


def machine_zones(aws):
    reservations = aws.ec2.describe_instances(Filters=[{"Name": "tag:flotilla-cluster", "Values": [NAME]}])
    instances = [i for r in reservations["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    return [i["Placement"]["AvailabilityZone"] for i in instances]


def test_the_machines_land_in_a_zone_that_offers_their_type(aws):
    cluster.provision(spec_for(aws), wait=False)

    zones = machine_zones(aws)
    assert len(zones) == 2
    assert set(zones) <= offering_zones(aws)


def test_the_zone_can_be_chosen(aws):
    cluster.provision(spec_for(aws, zone="us-east-1c"), wait=False)

    assert machine_zones(aws) == ["us-east-1c", "us-east-1c"]


def test_a_zone_that_does_not_offer_the_type_is_refused_before_anything_is_made(aws):
    zone = fewest_types_zone("us-east-1")
    assert zone not in offering_zones(aws)

    with pytest.raises(FlotillaError) as refused:
        cluster.provision(spec_for(aws, zone=zone), wait=False)

    message = str(refused.value)
    assert "\n" not in message
    assert f"aws.zone {zone} does not offer {INSTANCE_TYPE}" in message
    assert aws.tagged_resources(NAME) == []


def test_a_zone_outside_the_region_is_refused_by_the_spec(aws):
    with pytest.raises(SpecError, match="zone us-west-2a is not a zone of region us-east-1"):
        spec_for(aws, zone="us-west-2a")


def test_a_subnet_left_in_a_zone_without_the_type_does_not_fail_every_rerun(aws):
    # What an earlier run left: the cluster's VPC, with its subnet where the type is not offered.
    tags = [{"ResourceType": kind, "Tags": CLUSTER_TAGS} for kind in ("vpc",)]
    vpc_id = aws.ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=tags)["Vpc"]["VpcId"]
    aws.ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.42.0.0/20",
        AvailabilityZone=fewest_types_zone("us-east-1"),
        TagSpecifications=[{"ResourceType": "subnet", "Tags": CLUSTER_TAGS}],
    )

    cluster.provision(spec_for(aws), wait=False)

    zones = machine_zones(aws)
    assert len(zones) == 2
    assert set(zones) <= offering_zones(aws)
    assert cluster.down(spec_for(aws)) is True
    assert aws.tagged_resources(NAME) == []
