"""`pip install .`, not editable, into a fresh virtualenv gives a `flotilla` that works.

The package is built from a copy of the checkout's files and installed with
the pinned versions (from pip's cache or PyPI); then, run from outside any
checkout and without its ansible.cfg, that `flotilla` brings a one-master
cluster up and down, read back from Docker.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Machines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NAME = "e2e-pkg"


def run(command, cwd, env, timeout=900):
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    print(f"{' '.join(map(str, command[:3]))}: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The bin/ directory of a fresh virtualenv with flotilla installed from a copy of the checkout."""
    where = tmp_path_factory.mktemp("installed")
    # Only the checkout's own files (tracked, or new and not ignored): no
    # .venv, no clusters' files, and no build/ left in the checkout.
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    source = where / "source"
    for name in filter(None, listed.stdout.decode().split("\0")):
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    # Nothing of the checkout's Python environment leaks into the new one.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "ANSIBLE_CONFIG")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", os.defpath).split(os.pathsep) if not p.startswith(str(ROOT))
    )
    venv = where / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=where, env=env)
    run(
        [str(venv / "bin" / "pip"), "install", "-q", str(source), "-c", str(ROOT / "requirements" / "constraints.txt")],
        cwd=where,
        env=env,
    )
    env["FLOTILLA_INVENTORIES"] = str(where / "inventories")
    return venv / "bin", where, env


def test_the_installed_package_is_not_the_checkout(installed):
    bin_dir, where, env = installed
    located = run(
        [
            str(bin_dir / "python"),
            "-c",
            "import provisioners.runner as r; print(r.__file__); print(r.COLLECTION_ROOT)",
        ],
        cwd=where,
        env=env,
    ).split()
    assert all(path.startswith(str(bin_dir.parent)) for path in located), located
    assert "Usage: flotilla" in run([str(bin_dir / "flotilla"), "--help"], cwd=where, env=env)


def test_the_installed_flotilla_brings_a_cluster_up_and_down(installed, docker_client):
    bin_dir, where, env = installed
    machines = Machines(docker_client, NAME)
    try:
        run(
            [
                str(bin_dir / "flotilla"),
                "up",
                "--name",
                NAME,
                "--masters",
                "1",
                "--agents",
                "0",
                "--public-agents",
                "0",
            ],
            cwd=where,
            env=env,
        )
        master = f"{NAME}-master-1"
        swarm = machines.exec(
            master, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"
        )
        assert swarm.split() == ["active", "true"]
        assert set(machines.members(through=master)) == {master}
    finally:
        run([str(bin_dir / "flotilla"), "down", "--name", NAME], cwd=where, env=env)
    assert machines.leftovers() == {"containers": [], "networks": [], "volumes": []}
