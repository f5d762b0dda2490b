"""One contract, every cloud: the same behaviour asked of each provider.

Each cloud's fake lives in tests/clouds/<cloud>_fake.py as a ``Harness``
(see harness.py); the real SDK code of the provider runs against it.
"""

import importlib

import pytest
import yaml

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import build_spec
from provisioners.workspace import Workspace
from tests.clouds.harness import Interrupted

CLOUDS = ["aws", "gcp", "azure"]
NAME = "ctest"


@pytest.fixture(params=CLOUDS)
def cloud(request, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path))
    harness = importlib.import_module(f"tests.clouds.{request.param}_fake").Harness()
    with harness:
        yield harness


def spec_for(cloud, masters=3, agents=2, public_agents=1):
    return build_spec(
        {
            "name": NAME,
            "provider": cloud.provider,
            "masters": masters,
            "agents": agents,
            "public_agents": public_agents,
            cloud.provider: cloud.options(),
        }
    )


def provision(cloud, **counts):
    cluster.provision(spec_for(cloud, **counts), wait=False)
    return Workspace(NAME)


def inventory_hosts(workspace):
    data = yaml.safe_load(workspace.inventory_file.read_text())
    groups = data["cluster"]["children"]
    hosts = {}
    for group, pool_groups in (("masters", None), ("agents", ("agents_private", "agents_public"))):
        if pool_groups is None:
            hosts.update({h: ("master", "private", v) for h, v in (groups[group]["hosts"] or {}).items()})
            continue
        for sub in pool_groups:
            pool = sub.split("_")[1]
            hosts.update({h: ("agent", pool, v) for h, v in (groups[group]["children"][sub]["hosts"] or {}).items()})
    return hosts


def test_creates_the_machines_with_tags_network_and_firewall(cloud):
    workspace = provision(cloud)

    machines = cloud.machines(NAME)
    assert len(machines) == 6
    assert {m["state"] for m in machines} == {"running"}
    roles = sorted((m["tags"]["flotilla-role"], m["tags"]["flotilla-pool"]) for m in machines)
    assert roles == sorted([("master", "private")] * 3 + [("agent", "private")] * 2 + [("agent", "public")])
    for machine in machines:
        assert machine["tags"]["flotilla-cluster"] == NAME
        assert machine["tags"]["managed-by"] == "flotilla"
    assert len(cloud.networks(NAME)) == 1
    ssh = cloud.ssh_sources(NAME)
    assert ssh and "0.0.0.0/0" not in ssh
    assert "0.0.0.0/0" not in cloud.swarm_port_sources(NAME)

    hosts = inventory_hosts(workspace)
    assert set(hosts) == {m["name"] for m in machines}
    for machine in machines:
        role, pool, host_vars = hosts[machine["name"]]
        assert (role, pool) == (machine["tags"]["flotilla-role"], machine["tags"]["flotilla-pool"])
        assert host_vars["ansible_host"] == machine["address"]


def test_rerun_creates_nothing_more(cloud):
    provision(cloud)
    calls = cloud.mutating_calls
    provision(cloud)
    assert len(cloud.machines(NAME)) == 6
    assert len(cloud.networks(NAME)) == 1
    assert cloud.mutating_calls == calls


def test_throttling_is_retried(cloud):
    cloud.fail_next("throttle", times=2)
    provision(cloud, masters=1, agents=1, public_agents=0)
    assert cloud.failed_calls == 2
    assert len(cloud.machines(NAME)) == 2


def test_permission_error_is_not_retried(cloud):
    cloud.fail_next("permission", times=5)
    with pytest.raises(FlotillaError) as failure:
        provision(cloud, masters=1, agents=1, public_agents=0)
    assert cloud.failed_calls == 1
    assert "\n" not in str(failure.value)
    assert cloud.machines(NAME) == []


def test_quota_error_deletes_what_the_run_created(cloud):
    cloud.fail_next("quota", after=1)
    with pytest.raises(FlotillaError, match="(?i)quota"):
        provision(cloud)
    assert cloud.machines(NAME) == []
    assert cloud.networks(NAME) == []
    assert cloud.tagged_resources(NAME) == []


def test_interrupted_run_converges_on_rerun(cloud):
    cloud.interrupt_after(creates=1)
    with pytest.raises(Interrupted):
        provision(cloud)
    provision(cloud)
    machines = cloud.machines(NAME)
    assert len(machines) == 6
    assert len({m["name"] for m in machines}) == 6
    assert len(cloud.networks(NAME)) == 1


def test_down_twice_leaves_nothing(cloud):
    provision(cloud)
    assert cluster.down(spec_for(cloud)) is True
    assert cluster.down(spec_for(cloud)) is True
    assert cloud.machines(NAME) == []
    assert cloud.networks(NAME) == []
    assert cloud.tagged_resources(NAME) == []


def test_missing_credentials_stop_before_anything_is_created(cloud):
    with cloud.without_credentials(), pytest.raises(FlotillaError) as failure:
        provision(cloud)
    message = str(failure.value)
    assert "\n" not in message
    assert cloud.mutating_calls == 0


def test_a_failed_run_from_new_files_leaves_a_live_cluster_alone(cloud, tmp_path, monkeypatch):
    provision(cloud, masters=1, agents=1, public_agents=0)
    # Another operator, or a fresh checkout: no local files, a live cluster.
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "elsewhere"))
    cloud.fail_next("quota")
    with pytest.raises(FlotillaError):
        provision(cloud, masters=1, agents=2, public_agents=0)
    assert len(cloud.machines(NAME)) == 2
    assert len(cloud.networks(NAME)) == 1


def test_deleting_what_is_already_gone_succeeds(cloud):
    workspace = provision(cloud, masters=1, agents=1, public_agents=0)
    provider = cluster.provider_for(spec_for(cloud, masters=1, agents=1, public_agents=0), workspace)
    assert provider.public_key is not None
    names = [node.name for node in provider.list_nodes()]
    for _ in range(2):
        provider.delete_nodes(names)
        provider.cleanup()
    assert cloud.machines(NAME) == []
    assert cloud.tagged_resources(NAME) == []


def test_a_smaller_spec_is_refused_and_the_cluster_and_its_spec_stay(cloud):
    workspace = provision(cloud, masters=1, agents=2, public_agents=0)
    saved = workspace.spec_file.read_text()
    with pytest.raises(FlotillaError, match="flotilla remove"):
        provision(cloud, masters=1, agents=1, public_agents=0)
    assert len(cloud.machines(NAME)) == 3
    assert workspace.spec_file.read_text() == saved


def test_swarm_traffic_and_esp_only_between_members(cloud):
    provision(cloud, masters=1, agents=1, public_agents=0)
    members = cloud.swarm_port_sources(NAME)
    assert members and "0.0.0.0/0" not in members
    for port, protocol in ((7946, "udp"), (4789, "udp")):
        assert cloud.port_sources(NAME, port, protocol=cloud.protocol_word(protocol)) == members
    # Each cloud's own word for ESP (IP protocol 50), read back from its API.
    assert cloud.esp_sources(NAME) == members


def test_the_cluster_is_found_by_its_tags_without_local_files(cloud):
    provision(cloud, masters=1, agents=1, public_agents=1)
    Workspace(NAME).remove()
    spec = spec_for(cloud, masters=1, agents=1, public_agents=1)

    report = cluster.status(spec)

    assert sorted(row.name for row in report.nodes) == sorted(m["name"] for m in cloud.machines(NAME))
    assert {(row.name, row.role, row.pool) for row in report.nodes} == {
        (m["name"], m["tags"]["flotilla-role"], m["tags"]["flotilla-pool"]) for m in cloud.machines(NAME)
    }
    assert "SSH key" in report.unreadable
    assert not Workspace(NAME).spec_file.exists()

    assert cluster.down(spec) is True
    assert cloud.machines(NAME) == []
    assert cloud.networks(NAME) == []
    assert cloud.tagged_resources(NAME) == []
    assert cluster.down(spec) is True
