"""Where a cluster's files live on the operator's machine.

    ~/.config/flotilla/clusters/<name>/cluster.yml      the spec it was last made from
    ~/.config/flotilla/clusters/<name>/hosts.yml        the Ansible inventory
    ~/.config/flotilla/clusters/<name>/ssh/id_ed25519   its SSH key (mode 0600)

(under ``$XDG_CONFIG_HOME`` when set, or under ``$FLOTILLA_INVENTORIES``,
which overrides both). The machines themselves are found through the
provider's tags: these files are a convenience, never a precondition. The
key is the one thing that cannot be read back from the machines.
"""

import os
import shutil
from pathlib import Path

import yaml


def clusters_root():
    override = os.environ.get("FLOTILLA_INVENTORIES")
    if override:
        return Path(override)
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "flotilla" / "clusters"


class Workspace:
    def __init__(self, name, root=None):
        self.name = name
        self.path = Path(root or clusters_root()) / name

    @property
    def spec_file(self):
        return self.path / "cluster.yml"

    @property
    def inventory_file(self):
        return self.path / "hosts.yml"

    @property
    def private_key_file(self):
        return self.path / "ssh" / "id_ed25519"

    @property
    def known_hosts_file(self):
        return self.path / "ssh" / "known_hosts"

    def exists(self):
        return self.spec_file.exists()

    def _make(self):
        # The directory holds a private key and inventories that may hold
        # passwords: only its owner may read it.
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def save_spec(self, spec):
        self.save_spec_data(spec.to_dict())

    def save_spec_data(self, data):
        self._make()
        self.spec_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def load_spec_data(self):
        return yaml.safe_load(self.spec_file.read_text())

    def public_key(self):
        """The cluster's OpenSSH public key, or None where this machine has no key for it."""
        public = self.private_key_file.with_suffix(".pub")
        if not (self.private_key_file.exists() and public.exists()):
            return None
        return public.read_text().strip()

    def ensure_keypair(self):
        """Return the cluster's OpenSSH public key, generating the pair once."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key_file = self.private_key_file
        if not key_file.exists():
            self._make()
            key_file.parent.mkdir(exist_ok=True, mode=0o700)
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            key_file.with_suffix(".pub").write_bytes(public + f" flotilla-{self.name}\n".encode())
        return key_file.with_suffix(".pub").read_text().strip()

    def write_inventory(self, text):
        self._make()
        fd = os.open(self.inventory_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)
