"""Bad input gets one clear sentence, and leaves no half-made cluster behind."""

import subprocess
import sys
from pathlib import Path

import yaml

from tests.e2e.conftest import NOTHING, Machines, cluster_up, flotilla

ROOT = Path(__file__).resolve().parents[2]


def test_an_invalid_spec_is_refused_before_anything_is_made(docker_client, tmp_path):
    spec = tmp_path / "cluster.yml"
    spec.write_text("name: e2e-bad\nmasters: 2\nagents: -1\ncolour: blue\n")
    result = flotilla("up", "-f", str(spec))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("flotilla: error: ") for line in lines)
    assert any("--allow-even-masters" in line for line in lines)
    machines = Machines(docker_client, "e2e-bad")
    assert machines.leftovers() == NOTHING
    assert not machines.workspace.path.exists()


def test_a_missing_docker_daemon_says_what_to_run(docker_client):
    result = flotilla("up", "--name", "e2e-nodaemon", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no Docker daemon answers" in result.stderr and "make setup" in result.stderr
    machines = Machines(docker_client, "e2e-nodaemon")
    assert machines.leftovers() == NOTHING
    assert not machines.workspace.path.exists()


def test_an_unreachable_host_stops_site_yml_before_any_change(docker_client, tmp_path):
    name = "e2e-unreach"
    machines_only = ("--masters", "1", "--agents", "0", "--public-agents", "0")
    with cluster_up(docker_client, name, *machines_only, command="provision") as machines:
        inventory = yaml.safe_load(machines.workspace.inventory_file.read_text())
        # A hand-written inventory with a second machine that does not answer.
        inventory["cluster"]["children"]["agents"]["children"]["agents_private"]["hosts"] = {
            "gone-agent": {"ansible_host": "127.0.0.1", "ansible_port": 1}
        }
        hand_written = tmp_path / "hosts.yml"
        hand_written.write_text(yaml.safe_dump(inventory))

        result = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(hand_written), "site.yml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode != 0
        assert "Cannot reach gone-agent over SSH" in result.stdout
        master = f"{name}-master-1"
        installed = docker_client.containers.get(master).exec_run(["dpkg-query", "-W", "docker.io"])
        assert installed.exit_code != 0, "the reachable node was changed"
