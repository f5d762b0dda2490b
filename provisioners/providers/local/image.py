"""The local machines' base image: Debian 12 with systemd and sshd, built here.

No container registry is reachable from where Flotilla is developed, so the
image is bootstrapped from Debian packages with debootstrap and imported into
the host's Docker engine. The recipe's hash is stored as an image label, so a
changed recipe builds a new image and an unchanged one is never rebuilt.
"""

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from provisioners.providers.base import ProviderError

IMAGE = "flotilla/node"
RECIPE_LABEL = "org.flotilla.recipe"

# Bump when _customize changes, so that images built before are replaced.
RECIPE_REVISION = 2
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "sudo",
    "iproute2",
    "procps",
    "ca-certificates",
)

# Units that drive hardware or consoles a container does not have; left
# enabled they fail and keep `systemctl is-system-running` at "degraded".
MASKED_UNITS = (
    "getty.target",
    "console-getty.service",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-modules-load.service",
    "systemd-remount-fs.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "systemd-firstboot.service",
)

# Every machine must get host keys of its own at first boot, not share the
# image's: they are deleted from the image and generated before sshd starts.
SSH_HOSTKEYS_DROPIN = """\
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""

SSHD_CONFIG = """\
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
"""

log = logging.getLogger(__name__)


def recipe_hash():
    recipe = "\n".join(
        [str(RECIPE_REVISION), SUITE, MIRROR, *PACKAGES, *MASKED_UNITS, SSH_HOSTKEYS_DROPIN, SSHD_CONFIG]
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def image_ref():
    return f"{IMAGE}:{recipe_hash()}"


def ensure_image(client):
    """Return the base image's reference, building it on first use."""
    ref = image_ref()
    if client.images.list(name=ref):
        return ref
    if shutil.which("debootstrap") is None:
        raise ProviderError(
            "debootstrap is not installed, and the local machines' image is built "
            "with it: run `apt-get install -y debootstrap` (or `make setup`)."
        )
    log.info("building the base image %s from Debian packages (about 90 s)", ref)
    with tempfile.TemporaryDirectory(prefix="flotilla-rootfs-") as tmp:
        rootfs = Path(tmp)
        _debootstrap(rootfs)
        _customize(rootfs)
        _import(client, rootfs, ref)
    return ref


def _debootstrap(rootfs):
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
                MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as err:
        raise ProviderError(
            f"debootstrap could not build the machines' image (exit {err.returncode}; its messages are "
            f"above): check that {MIRROR} can be reached, then run again."
        ) from None


def _customize(rootfs):
    for unit in MASKED_UNITS:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    dropin = rootfs / "etc/systemd/system/ssh.service.d/hostkeys.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(SSH_HOSTKEYS_DROPIN)
    (rootfs / "etc/ssh/sshd_config.d/flotilla.conf").write_text(SSHD_CONFIG)
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # An empty machine-id makes systemd generate a new one at every first boot.
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    # apt judges its cache's age by this directory's time: empty, it must
    # look stale, or `apt: update_cache` with cache_valid_time skips it.
    os.utime(rootfs / "var/lib/apt/lists", (0, 0))


def _import(client, rootfs, ref):
    repository, tag = ref.split(":")
    with subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE,
    ) as tar:
        client.api.import_image_from_stream(
            tar.stdout,
            repository=repository,
            tag=tag,
            changes=[
                'CMD ["/sbin/init"]',
                "ENV container=docker",
                f"LABEL {RECIPE_LABEL}={recipe_hash()}",
            ],
        )
    if tar.returncode:
        raise ProviderError(f"packing the image's root file system failed (tar exit {tar.returncode}).")
