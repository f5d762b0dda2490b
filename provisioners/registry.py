"""Images into the cluster registry: what `flotilla image push` calls.

    reference = push(spec, "web:1")    # "10.42.0.5:5000/web:1", the name apps use

The image leaves the operator's Docker as an archive (`docker save`) and
goes over SSH, with the cluster's inventory and key, to the registry's own
node, which loads it and pushes it to the registry it serves: nothing but
SSH need reach the cluster. The password is the one the scheduler role made
beside the inventory; it travels on the node's stdin, never on a command line.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from provisioners import cluster, runner
from provisioners.apps import credentials_dir
from provisioners.errors import FlotillaError
from provisioners.providers.baremetal import read_inventory

PASSWORD = "registry-password"


class PushRefused(FlotillaError):
    """Nothing was pushed: the input cannot be, as it is."""


def local_image(name):
    """The image ``name`` (NAME[:TAG], the tag ``latest`` by default) in this
    machine's Docker, and its repository and tag for the registry."""
    import docker
    from docker.auth import resolve_repository_name
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(name)
    if tag and ":" in tag:
        raise PushRefused(f"{name} names a digest; give the image as NAME[:TAG], as `docker images` lists it.")
    tag = tag or "latest"
    try:
        client = docker.from_env()
        image = client.images.get(f"{repository}:{tag}")
    except docker.errors.ImageNotFound:
        raise PushRefused(f"this machine's Docker has no image {repository}:{tag}; build or pull it first.") from None
    except docker.errors.DockerException as err:
        raise PushRefused(f"this machine's Docker does not answer ({err}); start it, or set DOCKER_HOST.") from None
    # In the cluster's registry the image keeps its path without the
    # registry it came from: docker.io/library/busybox is busybox there.
    return image, f"{resolve_repository_name(repository)[1]}:{tag}"


def push(spec, name):
    """Push the local image ``name`` into the registry of the cluster ``spec``
    names; return the reference apps use for it."""
    image, repository = local_image(name)
    inventory_file = Path(cluster.inventory_file(spec))
    credentials = credentials_dir(inventory_file, read_inventory(str(inventory_file)))
    if not (credentials / PASSWORD).exists():
        raise PushRefused(
            f"{credentials} holds no registry password; run site.yml (or flotilla up) with the scheduler role first."
        )
    with tempfile.TemporaryDirectory(prefix="flotilla-image-") as directory:
        archive = Path(directory) / "image.tar"
        with archive.open("wb") as out:
            for chunk in image.save(named=False):
                out.write(chunk)
        result = runner.run_playbook(
            inventory_file,
            "playbooks/image-push.yml",
            extravars={
                "scheduler_push_archive": str(archive),
                "scheduler_push_image_id": image.id,
                "scheduler_push_repository": repository,
            },
        )
    # The playbook's last task tells the reference.
    return next(answer["msg"] for answer in result.results.values() if "msg" in answer)
