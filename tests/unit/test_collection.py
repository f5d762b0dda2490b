"""The built collection holds what a user needs, and ansible-doc renders every plugin of it.

Built with ansible-galaxy from galaxy.yml, installed into a temporary
collections path, and read back from there: what a user of the collection
would get.
"""

import ast
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

WANTED = {
    "README.md",
    "meta/runtime.yml",
    "inventories/sample/hosts.yml",
    "playbooks/site.yml",
    "playbooks/scale.yml",
    "playbooks/remove-node.yml",
    "playbooks/tasks/reach.yml",
    "roles/engine/tasks/main.yml",
    "roles/master/meta/argument_specs.yml",
    "plugins/modules/cluster_node.py",
    "plugins/module_utils/vocabulary.py",
    "plugins/filter/swarm_manager.yml",
    "plugins/modules/image.py",
    "images/hello/Dockerfile",
    "images/redis/redis.conf",
}
# Files and directories of the development checkout, which a user never needs.
DEV_ONLY = (
    ".ansible-lint",
    ".yamllint",
    ".config",
    ".ci",
    "Makefile",
    "ansible.cfg",
    "site.yml",
    "pyproject.toml",
    "requirements",
    "provisioners",
    "tests",
    "molecule",
    "scripts",
    "bench",
    "collections",
)


def run(*command, cwd, **env):
    # Outside the checkout and without its ansible.cfg: the collection must
    # work from the paths given here.
    environment = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"}
    environment.update(env)
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The collection's tarball and the collections path it is installed in."""
    where = tmp_path_factory.mktemp("collection")
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(where), str(ROOT), cwd=where)
    (tarball,) = where.glob("flotilla-cluster-*.tar.gz")
    installed = where / "installed"
    run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--offline",
        "--no-deps",
        "-p",
        str(installed),
        str(tarball),
        cwd=where,
    )
    return tarball, installed


def test_the_collection_ships_what_a_user_needs_and_no_dev_files(built):
    tarball, _ = built
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("./") for name in archive.getnames()}
    assert names >= WANTED, f"missing: {sorted(WANTED - names)}"
    shipped_dev = sorted(n for n in names if n.split("/")[0] in DEV_ONLY)
    assert shipped_dev == []
    # Local clusters' files (keys among them) never ship, only the sample.
    assert {n.split("/")[1] for n in names if n.startswith("inventories/") and n.count("/") >= 1} == {"sample"}


def plugin_names():
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
    filters = []
    for path in sorted((ROOT / "plugins" / "filter").glob("*.py")):
        # The names each FilterModule returns, read without importing Ansible's loader.
        tree = ast.parse(path.read_text())
        methods = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "filters"]
        returned = [n.value for method in methods for n in ast.walk(method) if isinstance(n, ast.Return)]
        filters += [key.value for value in returned if isinstance(value, ast.Dict) for key in value.keys]
    return [("module", name) for name in modules] + [("filter", name) for name in sorted(filters)]


@pytest.mark.parametrize(("kind", "name"), plugin_names())
def test_ansible_doc_renders_every_plugin(built, kind, name):
    _, installed = built
    output = run(
        str(BIN / "ansible-doc"),
        "--json",
        "-t",
        kind,
        f"flotilla.cluster.{name}",
        cwd=installed,
        ANSIBLE_COLLECTIONS_PATH=str(installed),
    )
    doc = json.loads(output)[f"flotilla.cluster.{name}"]
    assert doc["doc"]["short_description"]
    assert doc["doc"]["description"]
    assert doc["examples"]
    assert doc["return"]
