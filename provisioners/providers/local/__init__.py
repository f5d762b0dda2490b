"""The local provider: containers on this host's Docker engine as machines.

Each machine runs systemd as PID 1 and sshd, has its own address on one
user-defined network per cluster, and is reached by Ansible over SSH like any
other machine. Every container, network and volume is labelled with the
cluster's name, and only labelled objects are ever touched.
"""

import contextlib
import dataclasses
import time

from provisioners.providers.base import (
    MANAGED_BY,
    TAG_CLUSTER,
    TAG_MANAGED_BY,
    TAG_POOL,
    TAG_ROLE,
    Node,
    Provider,
    ProviderError,
)
from provisioners.providers.local.archives import archives_dir, ensure_archives
from provisioners.providers.local.image import ensure_image
from provisioners.providers.local.machine import create_machine, engine_volume

BOOT_TIMEOUT = 60


@dataclasses.dataclass(frozen=True)
class LocalOptions:
    """The local provider needs no options; the section may stay empty."""


class LocalProvider(Provider):
    Options = LocalOptions

    def __init__(self, spec, options, public_key):
        super().__init__(spec, options, public_key)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def network_name(self):
        return f"flotilla-{self.cluster}"

    def _labels(self, **extra):
        return {TAG_CLUSTER: self.cluster, TAG_MANAGED_BY: MANAGED_BY, **extra}

    def _filters(self):
        return {"label": [f"{TAG_CLUSTER}={self.cluster}", f"{TAG_MANAGED_BY}={MANAGED_BY}"]}

    def check(self):
        self.client  # noqa: B018 - connecting is the check

    def prepare(self):
        self.image = ensure_image(self.client)
        ensure_archives(self.client, archives_dir(), self.spec.public_agents)
        if not self.client.networks.list(names=[self.network_name], filters=self._filters()):
            self.client.networks.create(self.network_name, driver="bridge", labels=self._labels())

    def list_nodes(self):
        nodes = []
        for container in self.client.containers.list(all=True, filters=self._filters()):
            labels = container.labels
            networks = container.attrs["NetworkSettings"]["Networks"]
            address = networks.get(self.network_name, {}).get("IPAddress", "")
            nodes.append(
                Node(
                    name=container.name,
                    role=labels[TAG_ROLE],
                    pool=labels[TAG_POOL],
                    address=address,
                    private_address=address,
                    state=container.status,
                )
            )
        return sorted(nodes, key=lambda node: node.name)

    def create_nodes(self, requests):
        import docker.errors

        try:
            for request in requests:
                self._create(request)
            for request in requests:
                self._wait_booted(request.name)
        except docker.errors.APIError as err:
            raise ProviderError(f"the Docker engine refused to create a machine: {err.explanation or err}.") from None

    def _create(self, request):
        create_machine(
            self.client,
            self.image,
            request.name,
            labels=request.tags(self.cluster),
            network=self.network_name,
            public_key=self.public_key,
            archives=archives_dir(),
        )

    def _wait_booted(self, name):
        container = self.client.containers.get(name)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            # "degraded" still means booted: a unit failing is for Ansible to
            # report, not a reason to discard the machine.
            result = container.exec_run(["systemctl", "is-system-running"])
            if result.output.decode().strip() in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise ProviderError(f"machine {name} did not finish booting within {BOOT_TIMEOUT} s; see `docker logs {name}`.")

    def delete_nodes(self, names):
        import docker.errors

        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(name).remove(force=True)
            with contextlib.suppress(docker.errors.NotFound):
                self.client.volumes.get(engine_volume(name)).remove(force=True)

    def remains(self):
        """Every container, network and volume still labelled with the cluster."""
        filters = self._filters()
        return [
            *(f"container {c.name}" for c in self.client.containers.list(all=True, filters=filters)),
            *(f"network {n.name}" for n in self.client.networks.list(filters=filters)),
            *(f"volume {v.name}" for v in self.client.volumes.list(filters=filters)),
        ]

    def cleanup(self):
        """Delete the cluster's labelled networks and volumes. One still in use
        (a container that is not the cluster's on its network) stays: Docker
        refuses, and remains() names it."""
        import docker.errors

        for resource in [
            *self.client.volumes.list(filters=self._filters()),
            *self.client.networks.list(filters=self._filters()),
        ]:
            with contextlib.suppress(docker.errors.APIError):
                resource.remove()


def docker_client():
    """A client of this host's Docker engine, or one sentence on how to start it."""
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        raise ProviderError(
            "no Docker daemon answers on this host, and the local provider runs its "
            "machines on it: run `make setup` (installs docker.io and starts dockerd), "
            "or `systemctl start docker`."
        ) from None
    return client
