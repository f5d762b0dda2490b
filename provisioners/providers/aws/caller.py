"""This machine's public address: who SSH is open to when the spec does not say."""

import ipaddress
import urllib.request

from provisioners.providers.base import ProviderError

# AWS's own service: whoever can reach the EC2 API can reach it too.
CHECKIP_URL = "https://checkip.amazonaws.com"


def caller_cidr(url=CHECKIP_URL, timeout=10):
    """``a.b.c.d/32`` of this machine as the internet sees it."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            address = ipaddress.IPv4Address(response.read(64).decode().strip())
    except (OSError, ValueError):
        raise ProviderError(
            f"could not learn this machine's public IPv4 address from {url}, which SSH is opened to by "
            "default: set aws.ssh_cidr in the spec to the range you connect from, e.g. 203.0.113.7/32."
        ) from None
    return f"{address}/32"
