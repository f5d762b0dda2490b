"""How a container is made to behave like a machine.

The one place these options live: the local provider and the Molecule
scenarios both create their machines with ``create_machine``.

`--privileged` is refused on some hosts (a capability bounding set without
CAP_SYS_RESOURCE makes runc fail), so the machine gets every capability but
that one instead, which hosts that accept `--privileged` accept as well. That
is enough for systemd as PID 1 and for a Docker engine inside the machine.
CAP_SYS_TIME goes too: the clock is the host's, and a machine setting its
time zone (the common role does) would otherwise shift the host's clock by
the zone's offset.
"""

import io
import tarfile

from ansible_collections.flotilla.cluster.plugins.module_utils.images import NODE_ARCHIVES

CAP_ADD = ["ALL"]
CAP_DROP = ["SYS_RESOURCE", "SYS_TIME"]
SECURITY_OPT = ["seccomp=unconfined", "apparmor=unconfined"]
TMPFS = {"/run": "rw,exec", "/run/lock": "rw"}
CGROUP_MOUNT = "/sys/fs/cgroup"
# overlay2 cannot sit on overlay2: the inner engine's data lives on a volume.
ENGINE_DATA = "/var/lib/docker"
# systemd shuts down cleanly on SIGRTMIN+3, not on docker's SIGTERM.
STOP_SIGNAL = "SIGRTMIN+3"


def create_machine(client, image, name, labels, network, public_key, archives=None):
    """Create and start the machine ``name``; return its container. A
    directory of saved images, ``archives``, is mounted read-only where
    flotilla.cluster.image loads images from instead of building them."""
    volume = client.volumes.create(engine_volume(name), labels=labels)
    binds = {
        CGROUP_MOUNT: {"bind": CGROUP_MOUNT, "mode": "rw"},
        volume.name: {"bind": ENGINE_DATA, "mode": "rw"},
    }
    if archives is not None:
        binds[str(archives)] = {"bind": NODE_ARCHIVES, "mode": "ro"}
    host_config = client.api.create_host_config(
        cap_add=CAP_ADD,
        cap_drop=CAP_DROP,
        security_opt=SECURITY_OPT,
        cgroupns="host",
        tmpfs=TMPFS,
        binds=binds,
        network_mode=network,
    )
    # `--security-opt systempaths=unconfined` has no API name of its own: it
    # is these two lists left empty, so that the machine's engine may write
    # /proc/sys like a real machine's.
    host_config.update(MaskedPaths=[], ReadonlyPaths=[])
    created = client.api.create_container(
        image,
        name=name,
        hostname=name,
        labels=labels,
        stop_signal=STOP_SIGNAL,
        host_config=host_config,
    )
    container = client.containers.get(created["Id"])
    container.put_archive("/root", _authorized_keys_archive(public_key))
    container.start()
    return container


def engine_volume(name):
    return f"{name}-docker"


def _authorized_keys_archive(public_key):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        ssh_dir = tarfile.TarInfo(".ssh")
        ssh_dir.type = tarfile.DIRTYPE
        ssh_dir.mode = 0o700
        tar.addfile(ssh_dir)
        data = (public_key + "\n").encode()
        keys = tarfile.TarInfo(".ssh/authorized_keys")
        keys.mode = 0o600
        keys.size = len(data)
        tar.addfile(keys, io.BytesIO(data))
    return payload.getvalue()
