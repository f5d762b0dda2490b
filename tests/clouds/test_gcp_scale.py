"""GCP at scale: few requests per machine, operations side by side but bounded,
and a fake that holds bulkInsert and list filters to Compute's rules."""

import pytest
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import TAG_CLUSTER
from google.api_core import exceptions

from provisioners import cluster
from provisioners.providers.gcp import api
from provisioners.spec import build_spec
from tests.clouds import gcp_fake

NAME = "gscale"
MAX_CALLS_PER_MACHINE = 3


def spec_for(gcp, masters, agents, public_agents):
    return build_spec(
        {
            "name": NAME,
            "provider": "gcp",
            "masters": masters,
            "agents": agents,
            "public_agents": public_agents,
            "gcp": gcp.options(),
        }
    )


def test_a_cluster_costs_at_most_three_requests_per_machine(gcp):
    spec = spec_for(gcp, masters=3, agents=24, public_agents=3)
    cluster.provision(spec, wait=False)
    assert cluster.down(spec) is True
    # Every request counts: token, reads, writes, polls (none of the harness's yet).
    calls = gcp.total_calls
    assert gcp.machines(NAME) == []
    assert calls <= MAX_CALLS_PER_MACHINE * 30, f"{calls} requests for 30 machines"


def test_operations_run_side_by_side_but_bounded(gcp):
    gcp.fake.latency = gcp_fake.Latency(request=0.02, operation=0.2)
    spec = spec_for(gcp, masters=1, agents=2 * api.PARALLEL, public_agents=1)
    cluster.provision(spec, wait=False)
    # One bulkInsert per kind, all three at once; never one operation per machine.
    assert gcp.fake.peak_operations == 3
    assert len(gcp.machines(NAME)) == 2 + 2 * api.PARALLEL

    gcp.fake.peak_requests = 0
    assert cluster.down(spec) is True
    # The deletes overlap, but no more of them than the bound.
    assert 1 < gcp.fake.peak_requests <= api.PARALLEL
    assert gcp.machines(NAME) == []


def test_serial_when_the_bound_is_one(gcp, monkeypatch):
    monkeypatch.setattr(api, "PARALLEL", 1)
    gcp.fake.latency = gcp_fake.Latency(request=0.02, operation=0.2)
    spec = spec_for(gcp, masters=1, agents=2, public_agents=1)
    cluster.provision(spec, wait=False)
    assert gcp.fake.peak_operations == 1
    gcp.fake.peak_requests = 0
    assert cluster.down(spec) is True
    assert gcp.fake.peak_requests == 1


# -- the fake holds bulkInsert to BulkInsertInstanceResource's rules ---------


@pytest.fixture
def instances(gcp):
    """An InstancesClient of the fake's project, with the cluster's network made."""
    spec = spec_for(gcp, masters=1, agents=0, public_agents=0)
    cluster.provision(spec, wait=False)
    return gcp._client("InstancesClient")


def bulk(subnetwork=True, machine_type="e2-standard-2", **fields):
    from google.cloud import compute_v1

    interfaces = [compute_v1.NetworkInterface(subnetwork=f"regions/europe-west1/subnetworks/flotilla-{NAME}-subnet")]
    properties = compute_v1.InstanceProperties(
        machine_type=machine_type,
        disks=[
            compute_v1.AttachedDisk(
                boot=True,
                initialize_params=compute_v1.AttachedDiskInitializeParams(source_image="projects/d/global/images/i"),
            )
        ],
        network_interfaces=interfaces if subnetwork else [],
    )
    return compute_v1.BulkInsertInstanceResource(**{"instance_properties": properties, **fields})


def insert(instances, resource):
    operation = instances.bulk_insert(
        project=gcp_fake.PROJECT, zone=gcp_fake.ZONE, bulk_insert_instance_resource_resource=resource
    )
    operation.result()


@pytest.mark.parametrize(
    "fields, refusal",
    [
        ({"count": 2}, "namePattern or perInstanceProperties"),
        ({"count": 2, "name_pattern": "x-##-#"}, "continuous run"),
        ({"count": 2, "name_pattern": "x-node"}, "continuous run"),
        ({"count": 1, "name_pattern": "x-#", "min_count": 2}, "minCount"),
        ({"count": 3, "per_instance_properties": {"x-a": {}, "x-b": {}}}, "does not match"),
        ({"count": 1, "per_instance_properties": {"X_a": {}}}, "resource.name"),
        ({"count": 1, "name_pattern": "x-#", "source_instance_template": "global/instanceTemplates/t"}, "Exactly one"),
        (
            {"count": 1, "name_pattern": "x-#", "machine_type": f"zones/{gcp_fake.ZONE}/machineTypes/e2-small"},
            "name only",
        ),
    ],
)
def test_the_fake_refuses_what_compute_refuses_in_bulk_insert(instances, gcp, fields, refusal):
    machine_type = fields.pop("machine_type", "e2-standard-2")
    with pytest.raises(exceptions.BadRequest, match=refusal):
        insert(instances, bulk(machine_type=machine_type, **fields))
    assert [i for i in gcp.fake.resources if i[0] == "instances" and not i[2].startswith(NAME)] == []


def test_the_fake_numbers_a_name_pattern_after_the_biggest_existing_name(instances, gcp):
    insert(instances, bulk(count=2, name_pattern="x-##"))
    insert(instances, bulk(count=2, name_pattern="x-##", per_instance_properties={"x-a": {}}))
    names = sorted(name for kind, _, name in gcp.fake.resources if kind == "instances" and name.startswith("x-"))
    assert names == ["x-01", "x-02", "x-03", "x-a"]


@pytest.mark.parametrize(
    "expression",
    [
        f'labels.{TAG_CLUSTER} = "a" AND labels.managed-by = "flotilla"',  # several, unparenthesized
        f'(labels.{TAG_CLUSTER} = "a") (name eq "a-.*")',  # AIP-160 mixed with a regular expression
        '(name eq "a-.*") (zone eq ".*")',  # a regular expression on two fields
    ],
)
def test_the_fake_refuses_filters_compute_refuses(instances, expression):
    from google.cloud import compute_v1

    request = compute_v1.ListInstancesRequest(project=gcp_fake.PROJECT, zone=gcp_fake.ZONE, filter=expression)
    with pytest.raises(exceptions.BadRequest, match="filter"):
        list(instances.list(request=request))
