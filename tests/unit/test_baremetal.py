import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioners import cluster
from provisioners.providers.baremetal import BareMetalProvider
from provisioners.providers.base import Node, NodeRequest, ProviderError
from provisioners.spec import SpecError, build_spec
from provisioners.workspace import PROJECT_ROOT, Workspace
from tests.unit.inventories import GOOD_INI, GOOD_YAML, write

COUNTS = {"masters": 3, "agents": 1, "public_agents": 1}


@pytest.fixture(autouse=True)
def workspaces(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOTILLA_INVENTORIES", str(tmp_path / "workspaces"))


def spec_for(inventory, **counts):
    return build_spec(
        {"name": "metal", "provider": "baremetal", **COUNTS, **counts, "baremetal": {"inventory": str(inventory)}}
    )


def provider_for(inventory, **counts):
    spec = spec_for(inventory, **counts)
    return BareMetalProvider(spec, spec.options, public_key="ssh-ed25519 AAAA test")


def test_the_spec_needs_an_inventory_and_keeps_it_absolute(tmp_path, monkeypatch):
    with pytest.raises(SpecError) as failure:
        build_spec({"provider": "baremetal"})
    assert failure.value.problems == ["the 'baremetal' section needs 'inventory'."]
    monkeypatch.chdir(tmp_path)
    assert spec_for("site/hosts.yml").options.inventory == str(tmp_path / "site" / "hosts.yml")


def test_list_nodes_gives_the_inventory_s_machines(tmp_path):
    provider = provider_for(write(tmp_path, "hosts.yml", GOOD_YAML))
    provider.check()
    assert provider.list_nodes() == [
        Node("10.0.0.31", "agent", "public", "10.0.0.31", "192.168.0.31", state="listed"),
        Node("agent-1.example.com", "agent", "private", "agent-1.example.com", "agent-1.example.com", state="listed"),
        Node("master-1", "master", "private", "10.0.0.11", "10.0.0.11", state="listed"),
        Node("master-2", "master", "private", "10.0.0.12", "10.0.0.12", state="listed"),
        Node("master-3", "master", "private", "10.0.0.13", "10.0.0.13", state="listed"),
    ]


def test_check_lists_every_problem_one_per_line(tmp_path):
    path = write(
        tmp_path,
        "hosts.yml",
        GOOD_YAML.replace("agent_labels", "agent_lables").replace("master-3: {ansible_host: 10.0.0.13}", "master-3:"),
    )
    with pytest.raises(ProviderError) as failure:
        provider_for(path).check()
    assert str(failure.value).splitlines() == [
        f"{path}:7: host 'master-3' has no ansible_host, and its name is neither an IP address nor a fully "
        "qualified domain name; set ansible_host to the address to reach it at.",
        f"{path}:19: unknown variable 'agent_lables' (did you mean 'agent_labels'?)",
    ]


def test_the_spec_must_ask_for_what_the_inventory_lists(tmp_path):
    provider = provider_for(write(tmp_path, "hosts.yml", GOOD_YAML), masters=5, public_agents=1)
    with pytest.raises(ProviderError, match=r"asks for masters: 5 but .* lists masters: 3; .* set masters: 3 in"):
        provider.prepare()
    with pytest.raises(ProviderError, match=r"add hosts \(2 to group masters\) to "):
        provider.create_nodes([NodeRequest("metal-master-4", "master", "private")] * 2)


def test_provision_copies_the_inventory_with_the_cluster_name(tmp_path):
    user_inventory = write(tmp_path, "hosts", GOOD_INI)
    before = user_inventory.read_text()
    workspace = cluster.provision(spec_for(user_inventory, masters=3, agents=1, public_agents=0))

    copy = workspace.inventory_file.read_text()
    assert copy.startswith(f"# Copied by `flotilla provision` from {user_inventory} for cluster metal")
    data = yaml.safe_load(copy)
    assert data["cluster"]["vars"] == {
        "ansible_user": "admin",
        "engine_source": "upstream",
        "flotilla_cluster_name": "metal",
    }
    assert data["cluster"]["children"]["masters"]["hosts"] == {"master-[1:3].example.com:2222": None}
    assert user_inventory.read_text() == before
    # The copy passes the project's own preflight, its "machines" reached
    # through a local connection instead of SSH.
    preflight = subprocess.run(
        [
            ansible("ansible-playbook"),
            "-i",
            workspace.inventory_file,
            "playbooks/preflight.yml",
            "-e",
            f"ansible_connection=local ansible_python_interpreter={sys.executable}",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg")},
    )
    assert preflight.returncode == 0, preflight.stdout + preflight.stderr
    assert "ok=2" in preflight.stdout and "master-3" in preflight.stdout


def test_provision_refuses_a_bad_inventory_or_other_counts_and_leaves_nothing(tmp_path):
    bad = write(tmp_path, "bad.yml", "cluster: {}\n")
    with pytest.raises(ProviderError, match="must be a child of group 'cluster'"):
        cluster.provision(spec_for(bad))
    assert not Workspace("metal").exists()
    with pytest.raises(ProviderError, match="public_agents: 0 in the spec"):
        cluster.provision(spec_for(write(tmp_path, "hosts", GOOD_INI)))
    assert not Workspace("metal").exists()


def test_down_only_forgets_the_machines(tmp_path, caplog):
    user_inventory = write(tmp_path, "hosts.yml", GOOD_YAML)
    cluster.provision(spec_for(user_inventory))
    with caplog.at_level(logging.WARNING):
        cluster.down("metal")
    assert not Workspace("metal").path.exists()
    assert user_inventory.read_text() == GOOD_YAML
    assert "never deleted; these keep running" in caplog.text


def ansible(command):
    return Path(sys.executable).parent / command
