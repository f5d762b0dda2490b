"""The `aws:` section of the cluster spec."""

import dataclasses
import ipaddress
import re

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
IMAGE_PATTERN = re.compile(r"^ami-[0-9a-f]{8,17}$")


@dataclasses.dataclass(frozen=True)
class AwsOptions:
    """Where and what to run; every field has a default.

    ``image`` unset means the newest official Debian 12 AMI of the region;
    ``ssh_cidr`` unset means this machine's public IPv4 address, as AWS's
    checkip service sees it.
    """

    region: str = "us-east-1"
    instance_type: str = "t3.medium"
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
        if self.image is not None and not (isinstance(self.image, str) and IMAGE_PATTERN.match(self.image)):
            raise ValueError(f"image {self.image!r} is not an AMI id such as ami-0123456789abcdef0.")
        if self.ssh_cidr is not None:
            _ipv4_network("ssh_cidr", self.ssh_cidr)
        vpc = _ipv4_network("vpc_cidr", self.vpc_cidr)
        if not vpc.is_private or not 16 <= vpc.prefixlen <= 24:
            raise ValueError(f"vpc_cidr {self.vpc_cidr} must be a private range from /16 to /24, such as 10.42.0.0/16.")
        if not isinstance(self.ssh_user, str) or not self.ssh_user:
            raise ValueError("ssh_user must name the image's login user, such as admin for Debian.")
        ports = self.public_ports
        if not isinstance(ports, list) or not all(_is_port(p) for p in ports):
            raise ValueError(f"public_ports must be a list of TCP port numbers from 1 to 65535, not {ports!r}.")


def _ipv4_network(key, value):
    try:
        return ipaddress.IPv4Network(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{key} {value!r} is not an IPv4 range with its host bits zero, such as 203.0.113.0/24."
        ) from None


def _is_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
