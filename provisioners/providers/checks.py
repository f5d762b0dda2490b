"""Checks of the option values the cloud providers share, each failing with one sentence."""

import ipaddress


def ipv4_range(key, value):
    """``value`` as an IPv4 network, or a ValueError naming ``key``."""
    try:
        return ipaddress.IPv4Network(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{key} {value!r} is not an IPv4 range with its host bits zero, such as 203.0.113.0/24."
        ) from None


def check_ports(key, ports):
    """``ports`` must be a list of TCP port numbers."""
    if not isinstance(ports, list) or not all(_is_port(port) for port in ports):
        raise ValueError(f"{key} must be a list of TCP port numbers from 1 to 65535, not {ports!r}.")


def _is_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
