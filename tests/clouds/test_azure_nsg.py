"""The NSG as ARM takes it: '*' and tags only in the single-value prefix field.

The fake refuses what ARM refuses (SecurityRuleParameterContainsUnsupportedValue
for '*' or a tag in a prefix list; one of each single/list pair, never both),
and the provider's rules pass it.
"""

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import NetworkSecurityGroup, SecurityRule

from provisioners import cluster
from tests.clouds.test_contract import NAME, expected_openings, spec_for

GROUP = f"flotilla-{NAME}"


def put_rule(azure, **fields):
    resources, network, _ = azure._clients
    resources.resource_groups.create_or_update(GROUP, {"location": "westeurope"})
    rule = SecurityRule(
        name="probe",
        priority=100,
        direction="Inbound",
        access="Allow",
        protocol="Tcp",
        source_port_range="*",
        destination_port_range="22",
        destination_address_prefix="*",
        **fields,
    )
    nsg = NetworkSecurityGroup(location="westeurope", security_rules=[rule])
    return network.network_security_groups.begin_create_or_update(GROUP, "probe-nsg", nsg, polling_interval=0).result()


@pytest.mark.parametrize("prefix", ["*", "Internet", "VirtualNetwork"])
def test_the_fake_refuses_a_tag_or_star_in_the_prefix_list(azure, prefix):
    with pytest.raises(HttpResponseError) as refused:
        put_rule(azure, source_address_prefixes=[prefix])
    assert refused.value.error.code == "SecurityRuleParameterContainsUnsupportedValue"
    assert f"Unsupported value used: {prefix}." in refused.value.error.message


def test_the_fake_refuses_both_fields_of_a_pair(azure):
    with pytest.raises(HttpResponseError) as refused:
        put_rule(azure, source_address_prefix="10.0.0.0/8", source_address_prefixes=["192.168.0.0/16"])
    assert refused.value.status_code == 400
    assert "sourceAddressPrefix and sourceAddressPrefixes" in refused.value.error.message


@pytest.mark.parametrize(
    "fields",
    [
        {"source_address_prefix": "*"},
        {"source_address_prefix": "Internet"},
        {"source_address_prefixes": ["10.0.0.0/8"]},
    ],
)
def test_the_fake_takes_what_arm_takes(azure, fields):
    assert put_rule(azure, **fields).security_rules[0].name == "probe"


def test_the_providers_rules_are_accepted_and_open_what_the_spec_asks(azure):
    spec = spec_for(azure, masters=1, agents=1, public_agents=1)
    cluster.provision(spec, wait=False)

    _, network, _ = azure._clients
    rules = network.network_security_groups.get(GROUP, f"flotilla-{NAME}-nsg").security_rules
    for rule in rules:
        # Each source is one value: in the single field, which takes them all.
        assert rule.source_address_prefixes in (None, [])
        assert rule.source_address_prefix
    assert {r.source_address_prefix for r in rules} >= {"*", "Internet"}
    assert azure.openings(NAME) == expected_openings(spec)
