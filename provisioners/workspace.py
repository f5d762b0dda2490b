"""Where a cluster's files live on the operator's machine.

    inventories/<name>/cluster.yml      the spec it was provisioned from
    inventories/<name>/hosts.yml        the Ansible inventory
    inventories/<name>/ssh/id_ed25519   its SSH key (mode 0600, never committed)

The machines themselves are found through the provider's tags; these files
are what Ansible and the next `flotilla` command need to reach them.
"""

import os
import shutil
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def inventories_root():
    return Path(os.environ.get("FLOTILLA_INVENTORIES", PROJECT_ROOT / "inventories"))


class Workspace:
    def __init__(self, name, root=None):
        self.name = name
        self.path = Path(root or inventories_root()) / name

    @property
    def spec_file(self):
        return self.path / "cluster.yml"

    @property
    def inventory_file(self):
        return self.path / "hosts.yml"

    @property
    def private_key_file(self):
        return self.path / "ssh" / "id_ed25519"

    def exists(self):
        return self.spec_file.exists()

    def save_spec(self, spec):
        self.save_spec_data(spec.to_dict())

    def save_spec_data(self, data):
        self.path.mkdir(parents=True, exist_ok=True)
        self.spec_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def load_spec_data(self):
        return yaml.safe_load(self.spec_file.read_text())

    def ensure_keypair(self):
        """Return the cluster's OpenSSH public key, generating the pair once."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key_file = self.private_key_file
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        # Hand-written inventories copied here may hold passwords.
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.inventory_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)
