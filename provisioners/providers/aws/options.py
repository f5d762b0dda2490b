"""The `aws:` section of the cluster spec."""

import dataclasses
import re

from provisioners.providers.checks import check_ports, ipv4_range

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
IMAGE_PATTERN = re.compile(r"^ami-[0-9a-f]{8,17}$")


@dataclasses.dataclass(frozen=True)
class AwsOptions:
    """Where and what to run; every field has a default.

    ``image`` unset means the newest official Debian 12 AMI of the region;
    ``zone`` unset means a zone of the region that offers the instance type;
    ``ssh_cidr`` unset means the range the cluster's SSH rule has already,
    or for a new cluster this machine's public IPv4 address, as AWS's
    checkip service sees it (kept in the saved spec from then on).
    """

    region: str = "us-east-1"
    instance_type: str = "t3.medium"
    zone: str | None = None
    image: str | None = None
    ssh_cidr: str | None = None
    vpc_cidr: str = "10.42.0.0/16"
    ssh_user: str = "admin"
    # A list, not a tuple, so that the spec saved as YAML stays plain.
    public_ports: list = dataclasses.field(default_factory=lambda: [80, 443])

    def __post_init__(self):
        if not isinstance(self.region, str) or not REGION_PATTERN.match(self.region):
            raise ValueError(f"region {self.region!r} is not an AWS region name such as us-east-1.")
        if not isinstance(self.instance_type, str) or not self.instance_type:
            raise ValueError(f"instance_type {self.instance_type!r} is not an EC2 instance type such as t3.medium.")
        if self.zone is not None and not (isinstance(self.zone, str) and self.zone.startswith(self.region)):
            raise ValueError(f"zone {self.zone} is not a zone of region {self.region}, such as {self.region}a.")
        if self.image is not None and not (isinstance(self.image, str) and IMAGE_PATTERN.match(self.image)):
            raise ValueError(f"image {self.image!r} is not an AMI id such as ami-0123456789abcdef0.")
        if self.ssh_cidr is not None:
            ipv4_range("ssh_cidr", self.ssh_cidr)
        vpc = ipv4_range("vpc_cidr", self.vpc_cidr)
        if not vpc.is_private or not 16 <= vpc.prefixlen <= 24:
            raise ValueError(f"vpc_cidr {self.vpc_cidr} must be a private range from /16 to /24, such as 10.42.0.0/16.")
        if not isinstance(self.ssh_user, str) or not self.ssh_user:
            raise ValueError("ssh_user must name the image's login user, such as admin for Debian.")
        check_ports("public_ports", self.public_ports)
