"""The `azure` section of the cluster spec.

azure:
  subscription_id: 00000000-0000-0000-0000-000000000000   # required
  ssh_cidr: 203.0.113.7/32     # who may reach port 22; required before `provision`
  location: westeurope
  vm_size: Standard_D2s_v5
  image: Debian:debian-12:12-gen2:latest   # publisher:offer:sku:version, as `az vm create` takes it
  vnet_cidr: 10.42.0.0/16
  public_ports: [80, 443]      # open from the Internet to public agents only
  ssh_user: flotilla           # Azure refuses "root" as the admin user
  polling_interval: 10         # seconds between reads while operations run
"""

import dataclasses
import re

from provisioners.providers.checks import check_ports, ipv4_range

# Azure's rules for a Linux admin user name, and the names it reserves.
_USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_RESERVED_USERS = {"root", "admin", "administrator", "guest", "user", "test", "adm", "sys"}
DEFAULT_IMAGE = "Debian:debian-12:12-gen2:latest"


@dataclasses.dataclass(frozen=True)
class AzureOptions:
    subscription_id: str
    location: str = "westeurope"
    vm_size: str = "Standard_D2s_v5"
    image: str = DEFAULT_IMAGE
    # None is allowed here so that a spec can be written before the operator's
    # address is known; check() refuses to create anything until it is set.
    ssh_cidr: str | None = None
    vnet_cidr: str = "10.42.0.0/16"
    public_ports: list = dataclasses.field(default_factory=lambda: [80, 443])
    ssh_user: str = "flotilla"
    # Seconds between polls of long operations (and reads of the machine
    # list while they run); None keeps the defaults (the SDK's; 10 s).
    polling_interval: float | None = None

    def __post_init__(self):
        if not isinstance(self.subscription_id, str) or not self.subscription_id.strip():
            raise ValueError("subscription_id must be the ID that `az account show --query id` prints.")
        parts = self.image.split(":") if isinstance(self.image, str) else []
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"image must read publisher:offer:sku:version, like {DEFAULT_IMAGE}, not {self.image!r}.")
        if self.ssh_cidr is not None:
            ipv4_range("ssh_cidr", self.ssh_cidr)
        if ipv4_range("vnet_cidr", self.vnet_cidr).num_addresses < 16:
            raise ValueError(f"vnet_cidr {self.vnet_cidr} is too small for a subnet; use a /28 or larger range.")
        check_ports("public_ports", self.public_ports)
        user = self.ssh_user
        if not isinstance(user, str) or not _USER_PATTERN.match(user) or user in _RESERVED_USERS:
            raise ValueError(
                f"ssh_user {user!r} is not accepted by Azure: use lower-case letters, digits, '_' and '-', "
                f"and none of {', '.join(sorted(_RESERVED_USERS))}."
            )
        if self.polling_interval is not None and not (_number(self.polling_interval) and self.polling_interval >= 0):
            raise ValueError(f"polling_interval must be a number of seconds, 0 or more, not {self.polling_interval!r}.")

    @property
    def image_reference(self):
        publisher, offer, sku, version = self.image.split(":")
        return {"publisher": publisher, "offer": offer, "sku": sku, "version": version}


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)
