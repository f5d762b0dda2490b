"""The library API against a fake platform: the cluster is found by its tags,
and no command reports an outcome it has not read back from the platform."""

import stat

import pytest
import yaml

from provisioners import cluster
from provisioners.cli.options import where_from
from provisioners.errors import FlotillaError
from provisioners.providers.base import Node, Provider
from provisioners.spec import build_spec
from provisioners.workspace import Workspace, clusters_root

NAME = "tags"


class FakeProvider(Provider):
    """A platform held in a dict of machines; ``stuck`` machines survive deletion silently."""

    machines = {}
    stuck = set()

    def prepare(self):
        pass

    def list_nodes(self):
        return sorted(self.machines.values(), key=lambda node: node.name)

    def create_nodes(self, requests):
        assert self.public_key, "machines are only ever created with the cluster's key"
        for request in requests:
            self.machines[request.name] = Node(request.name, request.role, request.pool, "10.0.0.1", "10.0.0.1")

    def delete_nodes(self, names):
        for name in names:
            if name not in self.stuck:
                self.machines.pop(name, None)

    def cleanup(self):
        pass


@pytest.fixture(autouse=True)
def platform(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "clusters"))
    monkeypatch.setattr(cluster, "provider_class", lambda name: FakeProvider)
    monkeypatch.setattr(cluster, "wait_for_ssh", lambda nodes: None)
    monkeypatch.setattr(FakeProvider, "machines", {})
    monkeypatch.setattr(FakeProvider, "stuck", set())
    return FakeProvider


@pytest.fixture
def playbooks(monkeypatch):
    """The playbooks and modules Ansible would run, recorded instead."""
    runs = []
    monkeypatch.setattr(
        cluster.runner,
        "run_playbook",
        lambda inventory, playbook, extravars=None: runs.append((inventory, playbook, extravars)),
    )
    monkeypatch.setattr(cluster, "read_swarm", lambda inventory: {})
    return runs


def spec(**data):
    return build_spec({"name": NAME, "masters": 3, "agents": 1, "public_agents": 0, **data})


def forget_files():
    Workspace(NAME).remove()


def test_down_finds_the_machines_by_tags_without_local_files(platform):
    cluster.provision(spec())
    forget_files()
    assert cluster.down(spec()) is True
    assert platform.machines == {}
    # down needs no key, and makes none.
    assert not Workspace(NAME).path.exists()
    assert cluster.down(spec()) is True


def test_down_never_says_gone_while_a_machine_remains(platform):
    cluster.provision(spec())
    platform.stuck.add(f"{NAME}-master-2")
    with pytest.raises(FlotillaError, match=f"cluster {NAME} is not gone: local still lists {NAME}-master-2;"):
        cluster.down(spec())
    assert list(platform.machines) == [f"{NAME}-master-2"]
    # The files stay, so that the next `flotilla down` finds the key too.
    assert Workspace(NAME).exists()


def test_status_lists_machines_from_tags_and_says_the_key_is_missing(platform, playbooks, monkeypatch):
    cluster.provision(spec())
    forget_files()
    monkeypatch.setattr(cluster, "read_swarm", lambda inventory: pytest.fail("no key: nothing to ask"))
    report = cluster.status(spec())
    assert [row.name for row in report.nodes] == sorted(platform.machines)
    assert {row.swarm for row in report.nodes} == {"unknown"}
    assert report.unreadable.startswith(f"the SSH key of cluster {NAME} is not on this machine")
    assert not Workspace(NAME).path.exists()


def test_status_of_a_cluster_with_no_machines_says_so(platform):
    with pytest.raises(FlotillaError, match=f"local lists no machine of cluster {NAME}"):
        cluster.status(spec())


def test_remove_and_scale_without_the_key_say_so_and_change_nothing(platform, playbooks):
    cluster.provision(spec())
    forget_files()
    before = dict(platform.machines)
    with pytest.raises(FlotillaError, match=r"^cannot remove tags-agent-1: the SSH key of cluster tags is not"):
        cluster.remove(spec(), f"{NAME}-agent-1")
    with pytest.raises(FlotillaError, match=r"^cannot scale: the SSH key"):
        cluster.scale(spec(), agents=3)
    assert platform.machines == before
    assert playbooks == []


def test_remove_reads_the_machine_back_as_gone(platform, playbooks):
    cluster.provision(spec())
    platform.stuck.add(f"{NAME}-agent-1")
    with pytest.raises(FlotillaError, match="has left the swarm, but local still lists its machine"):
        cluster.remove(spec(), f"{NAME}-agent-1")


def test_remove_rewrites_the_inventory_from_the_platform_and_keeps_the_guard(platform, playbooks):
    cluster.provision(spec())
    # A machine the remembered spec knows nothing of: the platform is the truth.
    platform.machines[f"{NAME}-agent-7"] = Node(f"{NAME}-agent-7", "agent", "private", "10.0.0.7", "10.0.0.7")

    assert cluster.remove(spec(), f"{NAME}-master-3") is True

    workspace = Workspace(NAME)
    _, playbook, extravars = playbooks[-1]
    assert (playbook, extravars) == (
        "playbooks/remove-node.yml",
        {"node": f"{NAME}-master-3", "flotilla_allow_even_masters": True},
    )
    hosts = yaml.safe_load(workspace.inventory_file.read_text())["cluster"]
    assert sorted(hosts["children"]["masters"]["hosts"]) == [f"{NAME}-master-1", f"{NAME}-master-2"]
    assert sorted(hosts["children"]["agents"]["children"]["agents_private"]["hosts"]) == [
        f"{NAME}-agent-1",
        f"{NAME}-agent-7",
    ]
    # The guard stays the user's: two masters are remembered, not allowed.
    remembered = workspace.load_spec_data()
    assert (remembered["masters"], remembered["agents"], remembered["allow_even_masters"]) == (2, 2, False)
    assert hosts["vars"]["flotilla_allow_even_masters"] is False
    # So the next `flotilla up` from the remembered spec asks for an odd number or the flag...
    with pytest.raises(Exception, match="2 masters tolerate 0 failures.*--allow-even-masters"):
        build_spec(remembered)
    # ...while the commands that act on the cluster as it is still work from it.
    assert where_from(None, NAME).name == NAME
    assert len(cluster.status(where_from(None, NAME)).nodes) == 4


def test_scale_grows_from_what_the_platform_lists_and_reports_it(platform, playbooks):
    cluster.provision(spec(agents=1))
    platform.machines.pop(f"{NAME}-agent-1")
    nodes = cluster.scale(spec(), public_agents=1)
    # Totals not given are what the platform lists now, not what a spec said.
    assert cluster.counts(nodes) == {"masters": 3, "agents": 0, "public_agents": 1}
    assert playbooks[-1][1] == "playbooks/scale.yml"
    with pytest.raises(FlotillaError, match=r"scale only grows a cluster \(masters 1 < 3\)"):
        cluster.scale(spec(), masters=1)
    with pytest.raises(Exception, match="4 masters tolerate 1 failure"):
        cluster.scale(spec(), masters=4)
    cluster.scale(spec(), masters=4, allow_even_masters=True)
    assert len(platform.machines) == 5


def test_where_from_a_spec_file_ignores_its_counts(tmp_path):
    spec_file = tmp_path / "spec.yml"
    spec_file.write_text(yaml.safe_dump({"name": "prod", "provider": "local", "masters": 2}))
    assert where_from(str(spec_file)).name == "prod"
    assert where_from(str(spec_file), name="other").name == "other"


def test_files_live_in_the_user_s_config_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOTILLA_INVENTORIES")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert clusters_root() == tmp_path / "config" / "flotilla" / "clusters"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert clusters_root() == tmp_path / "home" / ".config" / "flotilla" / "clusters"
    workspace = Workspace("keys")
    assert workspace.public_key() is None
    public = workspace.ensure_keypair()
    assert public.startswith("ssh-ed25519 ") and workspace.public_key() == public
    assert stat.S_IMODE(workspace.private_key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(workspace.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(workspace.private_key_file.parent.stat().st_mode) == 0o700
