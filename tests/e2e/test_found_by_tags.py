"""A local cluster is found where it lives, by its labels: with its files and
key gone, `flotilla status -f` lists it and `flotilla down -f` deletes it,
and no command says "gone" while Docker still holds anything of it.

The tests share one cluster; the last ones take it down, and each runs alone too.
"""

import pytest
import yaml

from provisioners.providers.local.image import image_ref
from tests.e2e.conftest import Machines, cluster_up, flotilla, take_down

NAME = "e2e-tags"
NEIGHBOUR = "e2e-tags-next"
ONE_MACHINE = ("--masters", "1", "--agents", "0", "--public-agents", "0")


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "spec.yml"
    path.write_text(yaml.safe_dump({"name": NAME, "masters": 1, "agents": 1, "public_agents": 0}))
    return str(path)


@pytest.fixture(scope="module")
def machines(docker_client, spec_file):
    result = flotilla("up", "-f", spec_file)
    assert result.returncode == 0, result.stdout + result.stderr
    machines = Machines(docker_client, NAME)
    try:
        yield machines
    finally:
        for container in docker_client.containers.list(all=True, filters={"name": f"{NAME}-intruder"}):
            container.remove(force=True)
        take_down(docker_client, NAME)


def test_status_lists_every_node_from_the_labels_alone(machines, spec_file):
    machines.workspace.remove()  # the remembered spec, the inventory and the key

    result = flotilla("status", "-f", spec_file)

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:] if line.startswith(NAME)}
    containers = {c.name: c for c in machines.containers()}
    assert set(rows) == set(containers) == {f"{NAME}-master-1", f"{NAME}-agent-1"}
    for name, container in containers.items():
        assert rows[name][1:4] == [container.labels["flotilla-role"], container.labels["flotilla-pool"], "running"]
    assert f"membership cannot be read: the SSH key of cluster {NAME} is not on this machine" in result.stdout
    assert not machines.workspace.path.exists()


def test_down_does_not_say_gone_while_anything_remains(machines, spec_file, docker_client):
    # A container that is not the cluster's keeps the cluster's network in use.
    docker_client.containers.run(
        image_ref(), ["sleep", "600"], name=f"{NAME}-intruder", network=f"flotilla-{NAME}", detach=True
    )

    result = flotilla("down", "-f", spec_file)

    assert result.returncode == 1
    assert "gone" not in result.stdout
    assert result.stderr.strip() == (
        f"flotilla: error: cluster {NAME} is not gone: local still lists network flotilla-{NAME}; "
        "run `flotilla down` again, or delete them yourself."
    )
    assert machines.leftovers() == {"containers": [], "networks": [f"flotilla-{NAME}"], "volumes": []}


def test_down_from_the_spec_deletes_everything_and_twice_is_fine(machines, spec_file, docker_client):
    for intruder in docker_client.containers.list(all=True, filters={"name": f"{NAME}-intruder"}):
        intruder.remove(force=True)

    # A neighbour on the same Docker engine: down must leave it alone.
    with cluster_up(docker_client, NEIGHBOUR, *ONE_MACHINE, command="provision") as neighbour:
        before = neighbour.leftovers()
        first = flotilla("down", "-f", spec_file)
        second = flotilla("down", "-f", spec_file)

        assert first.returncode == 0, first.stderr
        assert second.returncode == 0, second.stderr
        assert machines.leftovers() == {"containers": [], "networks": [], "volumes": []}
        assert neighbour.leftovers() == before
        assert {c.status for c in neighbour.containers()} == {"running"}
    assert first.stdout.strip() == f"cluster {NAME} is gone: local lists nothing of it."
