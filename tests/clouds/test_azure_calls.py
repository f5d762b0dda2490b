"""Azure in few calls: one PUT per machine (its NIC and public IP defined
inside the VM), one list read for all machines' operations, bounded
concurrency, and `down` as one deletion of the resource group, each read back
through ARM's own list APIs."""

import re

import pytest
from azure.core.exceptions import HttpResponseError

from provisioners import cluster
from provisioners.providers import azure as azure_provider
from provisioners.providers.azure.layout import Layout
from provisioners.providers.azure.machines import virtual_machine
from provisioners.providers.azure.options import AzureOptions
from provisioners.providers.base import NodeRequest
from provisioners.workspace import Workspace
from tests.clouds.azure_fake import SUBSCRIPTION
from tests.clouds.test_contract import NAME, spec_for

GROUP = f"flotilla-{NAME}"
_TYPE = re.compile(r"/providers/(microsoft\.[a-z]+/[a-z]+)(?:/|$|\?)", re.I)


@pytest.fixture
def playbooks(monkeypatch):
    """`flotilla remove`'s playbook, recorded: the fake's machines run no sshd."""
    played = []
    monkeypatch.setattr(cluster.runner, "run_playbook", lambda inventory, playbook, extravars: played.append(extravars))
    return played


def requests_sent(azure, method, since=0):
    """The resource types (or 'group') of the requests of one method that reached ARM."""
    sent = []
    for call in azure.mock.calls[since:]:
        if call.request.method != method or "management.azure.com" not in call.request.url:
            continue
        found = _TYPE.search(call.request.url)
        sent.append(found[1].lower() if found else "group")
    return sent


def names_in_group(azure, kind):
    _, network, compute = azure._clients
    lists = {
        "nics": lambda: network.network_interfaces.list(GROUP),
        "ips": lambda: network.public_ip_addresses.list(GROUP),
        "disks": lambda: compute.disks.list_by_resource_group(GROUP),
    }
    return sorted(item.name for item in lists[kind]())


def test_a_machine_is_one_put_and_its_nic_and_ip_are_made_by_it(azure):
    spec = spec_for(azure, masters=1, agents=1, public_agents=1)
    cluster.provision(spec, wait=False)

    puts = requests_sent(azure, "PUT")
    assert puts.count("microsoft.compute/virtualmachines") == 3
    assert "microsoft.network/networkinterfaces" not in puts
    assert "microsoft.network/publicipaddresses" not in puts
    machines = azure.machines(NAME)
    assert {m["state"] for m in machines} == {"running"}
    # Each machine's NIC and address exist, carry the cluster's tags, and give the machine its address.
    assert len(names_in_group(azure, "nics")) == len(names_in_group(azure, "ips")) == 3
    tagged = " ".join(azure.tagged_resources(NAME)).lower()
    assert tagged.count("/networkinterfaces/") == tagged.count("/publicipaddresses/") == 3
    assert all(m["address"] for m in machines)


def test_at_scale_a_machine_costs_at_most_three_calls_up_and_down(azure):
    spec = spec_for(azure, masters=3, agents=56, public_agents=1)
    cluster.provision(spec, wait=False)
    before_reading = azure.total_calls
    assert len(azure.machines(NAME)) == 60
    read_by_the_test = azure.total_calls - before_reading

    assert cluster.down(spec) is True

    calls = azure.total_calls - read_by_the_test
    assert calls / 60 <= 3, f"{calls} requests for 60 machines"
    assert azure.tagged_resources(NAME) == []


def test_down_deletes_the_resource_group_only_and_reads_it_back_gone(azure):
    spec = spec_for(azure, masters=1, agents=2, public_agents=1)
    cluster.provision(spec, wait=False)
    since = len(azure.mock.calls)

    assert cluster.down(spec) is True

    assert requests_sent(azure, "DELETE", since) == ["group"]
    resources, _, _ = azure._clients
    assert GROUP not in [group.name for group in resources.resource_groups.list()]
    assert azure.machines(NAME) == []
    assert azure.tagged_resources(NAME) == []


def test_remove_takes_the_machines_nic_address_and_disk_along(azure, playbooks):
    spec = spec_for(azure, masters=1, agents=2, public_agents=0)
    cluster.provision(spec, wait=False)
    node = f"{NAME}-agent-2"
    kept = [f"{NAME}-master-1", f"{NAME}-agent-1"]
    assert len(names_in_group(azure, "disks")) == 3

    assert cluster.remove(spec, node) is True

    assert [m["name"] for m in azure.machines(NAME)] == sorted(kept)
    for kind in ("nics", "ips", "disks"):
        names = names_in_group(azure, kind)
        assert len(names) == 2, (kind, names)
        assert not [name for name in names if name.startswith(f"{node}-")], (kind, names)


def test_operations_in_flight_are_bounded(azure, monkeypatch):
    monkeypatch.setattr(azure_provider, "IN_FLIGHT", 3)
    cluster.provision(spec_for(azure, masters=3, agents=6, public_agents=1), wait=False)
    assert len(azure.machines(NAME)) == 10
    assert azure.fake.most_under_way["microsoft.compute/virtualmachines"] == 3


def test_without_a_bound_the_fake_sees_them_all_at_once(azure):
    """The negative control of the test above: the fake's count does see concurrency."""
    cluster.provision(spec_for(azure, masters=3, agents=6, public_agents=1), wait=False)
    assert azure.fake.most_under_way["microsoft.compute/virtualmachines"] == 10


def vm_body(azure):
    """A VM as the provider defines it, in a cluster whose network exists."""
    cluster.provision(spec_for(azure, masters=1, agents=0, public_agents=0), wait=False)
    request = NodeRequest(name="probe-1", role="master", pool="private")
    options = AzureOptions(**azure.options())
    return virtual_machine(options, {}, Layout(SUBSCRIPTION, NAME), request, "ssh-ed25519 AAAA probe").as_dict()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda profile: profile.pop("networkApiVersion"), "InvalidParameter"),
        (
            lambda profile: profile["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0][
                "properties"
            ].update(publicIpConfiguration={}),
            "InvalidRequestContent",
        ),
    ],
    ids=["no-network-api-version", "unknown-member"],
)
def test_the_fake_refuses_a_network_profile_compute_would_refuse(azure, change, code):
    body = vm_body(azure)
    change(body["properties"]["networkProfile"])
    _, _, compute = azure._clients
    with pytest.raises(HttpResponseError) as refused:
        compute.virtual_machines.begin_create_or_update(GROUP, "probe-1", body, polling=False)
    assert refused.value.error.code == code
    assert "probe-1" not in [vm.name for vm in compute.virtual_machines.list(GROUP)]


def test_deleting_machines_is_one_request_each_and_one_list_per_poll(azure):
    spec = spec_for(azure, masters=1, agents=9, public_agents=0)
    cluster.provision(spec, wait=False)
    provider = cluster.provider_for(spec, Workspace(NAME))
    names = [node.name for node in provider.list_nodes()]
    since = len(azure.mock.calls)

    provider.delete_nodes(names)

    assert requests_sent(azure, "DELETE", since) == ["microsoft.compute/virtualmachines"] * 10
    # A VM's deletion takes two polls: two lists, and one more at most, whatever the count.
    assert requests_sent(azure, "GET", since).count("microsoft.compute/virtualmachines") <= 3
    assert azure.machines(NAME) == []
