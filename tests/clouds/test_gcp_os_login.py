"""OS Login: where it is on, the `ssh-keys` metadata Flotilla's key travels in is ignored.

Read back through Compute's list API: the metadata each machine carries.
"""

import logging

import pytest

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.spec import build_spec
from tests.clouds import gcp_fake

NAME = "goslogin"


def provision(gcp):
    spec = build_spec(
        {"name": NAME, "provider": "gcp", "masters": 1, "agents": 1, "public_agents": 1, "gcp": gcp.options()}
    )
    cluster.provision(spec, wait=False)


def metadata(gcp):
    """Each machine's metadata, as Compute lists it."""
    return {i.name: {item.key: item.value for item in i.metadata.items} for i in gcp._instances(NAME)}


@pytest.mark.parametrize("org_policy_readable", [True, False])
def test_os_login_on_in_the_project_is_turned_off_on_the_machines(gcp, caplog, org_policy_readable):
    gcp.fake.project_metadata = {"enable-oslogin": "TRUE"}
    gcp.fake.org_policy_readable = org_policy_readable
    with caplog.at_level(logging.WARNING):
        provision(gcp)
    machines = metadata(gcp)
    assert len(machines) == 3
    for items in machines.values():
        assert items["enable-oslogin"] == "FALSE"
        assert items["ssh-keys"].startswith("flotilla:ssh-")
    # Said once, in one sentence.
    said = [r.getMessage() for r in caplog.records if "OS Login" in r.getMessage()]
    assert len(said) == 1 and "enable-oslogin=FALSE" in said[0] and "\n" not in said[0]


def test_os_login_left_alone_where_the_project_does_not_use_it(gcp):
    gcp.fake.project_metadata = {"enable-oslogin": "FALSE"}
    provision(gcp)
    machines = metadata(gcp)
    assert len(machines) == 3
    assert all("enable-oslogin" not in items for items in machines.values())


def test_os_login_required_by_org_policy_is_said_before_anything_is_created(gcp):
    gcp.fake.project_metadata = {"enable-oslogin": "TRUE"}
    gcp.fake.enforced_constraints = {gcp_fake.OS_LOGIN_CONSTRAINT}
    with pytest.raises(FlotillaError) as failure:
        provision(gcp)
    message = str(failure.value)
    assert "\n" not in message
    assert "constraints/compute.requireOsLogin" in message and gcp_fake.PROJECT in message
    # Nothing at all in the project: no network, no rule, no machine.
    assert gcp.fake.resources == {}
    assert gcp.machines(NAME) == []
    assert gcp.tagged_resources(NAME) == []


def test_os_login_required_where_the_policy_cannot_be_read_is_named_by_the_failure(gcp):
    gcp.fake.project_metadata = {"enable-oslogin": "TRUE"}
    gcp.fake.enforced_constraints = {gcp_fake.OS_LOGIN_CONSTRAINT}
    gcp.fake.org_policy_readable = False
    with pytest.raises(FlotillaError, match="constraints/compute.requireOsLogin") as failure:
        provision(gcp)
    assert "\n" not in str(failure.value)
    # Compute refused the machines; the run's network went with them.
    assert gcp.machines(NAME) == []
    assert gcp.tagged_resources(NAME) == []
