"""One contract, every cloud: the same behaviour asked of each provider.

Each cloud's fake lives in tests/clouds/<cloud>_fake.py as a ``Harness``
(see harness.py); the real SDK code of the provider runs against it.
"""

import importlib

import pytest
import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import SWARM_TRAFFIC

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import build_spec
from provisioners.workspace import Workspace
from tests.clouds.harness import MEMBERS, PUBLIC_AGENTS, WORLD, Interrupted

CLOUDS = ["aws", "gcp", "azure"]
NAME = "ctest"
SSH_PORT = 22
# The ways each cloud's SDK finds credentials, as its own documentation tells users.
CREDENTIAL_HINTS = {
    "aws": ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "gcp": ("GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login"),
    "azure": ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "az login"),
}


@pytest.fixture(params=CLOUDS)
def cloud(request, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path))
    harness = importlib.import_module(f"tests.clouds.{request.param}_fake").Harness()
    with harness:
        yield harness


def spec_for(cloud, masters=3, agents=2, public_agents=1, name=NAME, **options):
    return build_spec(
        {
            "name": name,
            "provider": cloud.provider,
            "masters": masters,
            "agents": agents,
            "public_agents": public_agents,
            cloud.provider: {**cloud.options(), **options},
        }
    )


def provision(cloud, **counts):
    spec = spec_for(cloud, **counts)
    cluster.provision(spec, wait=False)
    return Workspace(spec.name)


def expected_openings(spec):
    """What the firewall must open, from the vocabulary and the spec alone:
    the swarm's traffic between members, SSH from the operator's range, the
    published ports from anywhere to public agents, and nothing else."""
    opened = {(traffic.protocol, traffic.port, MEMBERS, MEMBERS) for traffic in SWARM_TRAFFIC}
    opened.add(("tcp", SSH_PORT, spec.options.ssh_cidr, MEMBERS))
    opened |= {("tcp", port, WORLD, PUBLIC_AGENTS) for port in spec.options.public_ports}
    return opened


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
    assert cloud.openings(NAME) == expected_openings(spec_for(cloud))

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
    # What is missing, and each way the user can give it.
    assert "credentials" in message
    for hint in CREDENTIAL_HINTS[cloud.provider]:
        assert hint in message
    assert cloud.mutating_calls == 0
    assert cloud.machines(NAME) == []
    assert cloud.networks(NAME) == []
    assert cloud.tagged_resources(NAME) == []


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


@pytest.mark.parametrize("public_ports", [None, [8080, 8443, 9000]])
def test_the_firewall_opens_exactly_what_the_spec_asks(cloud, public_ports):
    options = {} if public_ports is None else {"public_ports": public_ports}
    spec = spec_for(cloud, masters=1, agents=1, public_agents=1, **options)
    cluster.provision(spec, wait=False)
    assert cloud.openings(NAME) == expected_openings(spec)


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


@pytest.fixture
def playbooks(monkeypatch):
    """The playbooks `flotilla remove` would run: recorded, since the fakes' machines run no sshd."""
    played = []
    monkeypatch.setattr(cluster.runner, "run_playbook", lambda inventory, playbook, extravars: played.append(extravars))
    return played


def test_remove_deletes_the_machine(cloud, playbooks):
    spec = spec_for(cloud, masters=1, agents=2, public_agents=0)
    cluster.provision(spec, wait=False)
    before = {m["name"] for m in cloud.machines(NAME)}
    node = sorted(m["name"] for m in cloud.machines(NAME) if m["tags"]["flotilla-role"] == "agent")[-1]

    assert cluster.remove(spec, node) is True

    assert [extravars["node"] for extravars in playbooks] == [node]
    assert {m["name"] for m in cloud.machines(NAME)} == before - {node}
    assert node not in inventory_hosts(Workspace(NAME))


def test_remove_fails_when_the_cloud_keeps_the_machine(cloud, playbooks):
    spec = spec_for(cloud, masters=1, agents=2, public_agents=0)
    cluster.provision(spec, wait=False)
    node = sorted(m["name"] for m in cloud.machines(NAME) if m["tags"]["flotilla-role"] == "agent")[-1]
    cloud.keep_next_deletion()

    with pytest.raises(FlotillaError, match=node):
        cluster.remove(spec, node)

    assert node in {m["name"] for m in cloud.machines(NAME)}


def test_down_deletes_its_cluster_and_leaves_the_other_alone(cloud):
    kept = spec_for(cloud, masters=1, agents=1, public_agents=1, name="ckept")
    cluster.provision(kept, wait=False)
    cluster.provision(spec_for(cloud, masters=1, agents=1, public_agents=1), wait=False)
    machines, networks, openings = cloud.machines("ckept"), cloud.networks("ckept"), cloud.openings("ckept")
    resources = sorted(cloud.tagged_resources("ckept"))
    assert len(machines) == 3 and len(networks) == 1

    assert cluster.down(spec_for(cloud, masters=1, agents=1, public_agents=1)) is True

    assert cloud.machines(NAME) == []
    assert cloud.networks(NAME) == []
    assert cloud.tagged_resources(NAME) == []
    assert cloud.machines("ckept") == machines
    assert cloud.networks("ckept") == networks
    assert cloud.openings("ckept") == openings == expected_openings(kept)
    assert sorted(cloud.tagged_resources("ckept")) == resources
