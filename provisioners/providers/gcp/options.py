"""The `gcp:` section of a cluster spec.

gcp:
  project: my-project          # required
  ssh_cidr: 203.0.113.7/32     # required at provision time: who may reach port 22
  zone: europe-west1-b
  machine_type: e2-standard-2
  image: projects/debian-cloud/global/images/family/debian-12
  subnet_cidr: 10.42.0.0/20
  ssh_user: flotilla
  public_ports: [80, 443]      # opened to everyone, on public agents only
"""

import dataclasses
import re

from provisioners.providers.checks import check_ports, ipv4_range

# GCP's own rules: project IDs (optionally domain-scoped), zone names, and
# the user names its guest environment accepts in `ssh-keys`.
PROJECT_PATTERN = re.compile(r"^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
ZONE_PATTERN = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
USER_PATTERN = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


@dataclasses.dataclass(frozen=True)
class GcpOptions:
    """Where and what Flotilla creates on Google Cloud; only ``project`` has no default."""

    project: str
    zone: str = "europe-west1-b"
    machine_type: str = "e2-standard-2"
    image: str = "projects/debian-cloud/global/images/family/debian-12"
    # No default on purpose: SSH is never opened to the whole internet unless
    # someone writes 0.0.0.0/0 here themselves.
    ssh_cidr: str | None = None
    subnet_cidr: str = "10.42.0.0/20"
    ssh_user: str = "flotilla"
    public_ports: list = dataclasses.field(default_factory=lambda: [80, 443])

    def __post_init__(self):
        if not isinstance(self.project, str) or not PROJECT_PATTERN.match(self.project):
            raise ValueError(
                f"project {self.project!r} is not a GCP project ID (6 to 30 lower-case letters, digits, '-')."
            )
        if not isinstance(self.zone, str) or not ZONE_PATTERN.match(self.zone):
            raise ValueError(f"zone {self.zone!r} is not a GCP zone name such as europe-west1-b.")
        for key in ("machine_type", "image"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ValueError(f"{key} must be a non-empty string.")
        if self.ssh_cidr is not None:
            ipv4_range("ssh_cidr", self.ssh_cidr)
        ipv4_range("subnet_cidr", self.subnet_cidr)
        if not isinstance(self.ssh_user, str) or not USER_PATTERN.match(self.ssh_user):
            raise ValueError(f"ssh_user {self.ssh_user!r} must be a lower-case Linux user name.")
        check_ports("public_ports", self.public_ports)

    @property
    def region(self):
        """The region the zone lies in, where the subnetwork must be."""
        return self.zone.rsplit("-", 1)[0]
