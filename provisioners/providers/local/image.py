"""The local machines' image: Debian 12 with systemd and sshd, built here.

Built with the shared builder (plugins/module_utils/images.py): mmdebstrap,
this module's customisation, docker import. The recipe's hash is the tag and
an image label, so a changed recipe builds a new image and an unchanged one
is never rebuilt.
"""

import logging
import os
from pathlib import Path

from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners.providers.base import ProviderError

IMAGE = "flotilla/node"
RECIPE_LABEL = images.RECIPE_LABEL

# Bump when _customize changes, so that images built before are replaced.
RECIPE_REVISION = 3
SUITE = images.SUITE
MIRROR = images.MIRROR
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
    return images.digest(RECIPE_REVISION, SUITE, MIRROR, *PACKAGES, *MASKED_UNITS, SSH_HOSTKEYS_DROPIN, SSHD_CONFIG)


def image_ref():
    return f"{IMAGE}:{recipe_hash()}"


def ensure_image(client):
    """Return the base image's reference, building it on first use."""
    ref = image_ref()
    if not images.exists(client, ref):
        log.info("building the machines' image %s from Debian packages (about a minute)", ref)
    try:
        images.bootstrap_image(
            client,
            ref,
            PACKAGES,
            customize=_customize,
            changes=['CMD ["/sbin/init"]', "ENV container=docker", f"LABEL {RECIPE_LABEL}={recipe_hash()}"],
        )
    except images.ImageError as err:
        raise ProviderError(str(err)) from None
    return ref


def _customize(rootfs):
    rootfs = Path(rootfs)
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
    images.remove_apt_caches(rootfs)
    # apt judges its cache's age by this directory's time: empty, it must
    # look stale, or `apt: update_cache` with cache_valid_time skips it.
    os.utime(rootfs / "var/lib/apt/lists", (0, 0))
