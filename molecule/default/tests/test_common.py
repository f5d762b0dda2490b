"""What the common role leaves on a node: kernel settings, time zone, time sync.

The expected values are the scenario's own (molecule.yml's group_vars), read
from the inventory, so the tests follow them.
"""

import pytest


@pytest.fixture(scope="module")
def wanted(host):
    return host.ansible.get_variables()


def test_kernel_settings_are_kept_and_live(host, wanted):
    kept = host.file("/etc/sysctl.d/90-flotilla.conf")
    assert kept.user == "root"
    lines = {line.replace(" ", "") for line in kept.content_string.splitlines()}
    for name, value in wanted["common_sysctl"].items():
        assert f"{name}={value}" in lines
        live = host.file("/proc/sys/" + name.replace(".", "/")).content_string.strip()
        assert live == str(value), name


def test_the_time_zone_is_set(host, wanted):
    zone = wanted["common_timezone"]
    assert host.file("/etc/localtime").linked_to == f"/usr/share/zoneinfo/{zone}"
    assert host.check_output("timedatectl show --property=Timezone --value") == zone


def test_time_sync_runs_except_in_a_container(host):
    # A container's clock is the host's: the role leaves time sync alone there.
    in_container = host.run("systemd-detect-virt --container").rc == 0
    timesyncd = host.service("systemd-timesyncd")
    if in_container:
        assert not host.package("systemd-timesyncd").is_installed
        assert not timesyncd.is_running
    else:
        assert timesyncd.is_enabled
        assert timesyncd.is_running
