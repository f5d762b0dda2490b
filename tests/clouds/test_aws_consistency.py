"""EC2 as eventually consistent as its own guide says it is.

With the fake switched to eventual consistency (see aws_fake.py), the first
request naming a new resource answers NotFound, a tag-filtered
DescribeInstances misses instances just launched, and a VPC's parts stay in
use for some calls after its machines are terminated. What is left is read
back through EC2's own describe calls.
"""

import pytest

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import build_spec

NAME = "ectest"


def spec_for(aws, masters=1, agents=1, public_agents=0):
    return build_spec(
        {
            "name": NAME,
            "provider": "aws",
            "masters": masters,
            "agents": agents,
            "public_agents": public_agents,
            "aws": aws.options(),
        }
    )


def test_a_new_cluster_is_made_while_ec2_catches_up(aws):
    aws.eventually_consistent()

    cluster.provision(spec_for(aws, masters=3, agents=2, public_agents=1), wait=False)

    machines = aws.machines(NAME)
    assert sorted(m["name"] for m in machines) == sorted(
        [f"{NAME}-master-{i}" for i in (1, 2, 3)] + [f"{NAME}-agent-1", f"{NAME}-agent-2", f"{NAME}-public-1"]
    )
    assert {m["state"] for m in machines} == {"running"}
    # The fake did play: new pieces were unknown to the first request naming them.
    assert aws.not_found_answers >= 4


def test_a_failed_run_terminates_every_machine_it_launched(aws):
    aws.eventually_consistent()
    aws.fail_next("quota", after=2)

    with pytest.raises(FlotillaError, match="(?i)quota"):
        cluster.provision(spec_for(aws, masters=3, agents=1), wait=False)

    assert aws.machines(NAME) == []
    assert aws.tagged_resources(NAME) == []


def test_down_waits_until_the_network_is_freed(aws):
    cluster.provision(spec_for(aws), wait=False)
    aws.eventually_consistent(release_after=3)

    assert cluster.down(spec_for(aws)) is True

    assert aws.dependency_answers == 3
    assert aws.machines(NAME) == []
    assert aws.tagged_resources(NAME) == []


def test_a_network_never_freed_is_told_in_one_sentence(aws):
    cluster.provision(spec_for(aws), wait=False)
    aws.eventually_consistent(release_after=10_000)

    with pytest.raises(FlotillaError) as failure:
        cluster.down(spec_for(aws))

    message = str(failure.value)
    assert "\n" not in message
    assert "DependencyViolation" in message
    assert "flotilla down" in message
    assert aws.machines(NAME) == []
    assert aws.networks(NAME) != []
