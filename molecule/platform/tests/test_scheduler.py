"""The scheduler services: on every master, reached only through its TLS router.

The router is checked from the operator's side, as `flotilla app` reaches it:
with the CA and token the role left beside the inventory.
"""

import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

testinfra_hosts = ["ansible://masters"]

CREDENTIALS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "inventory" / ".credentials"


def test_the_scheduler_runs_on_loopback_only(host):
    assert host.service("flotilla-scheduler").is_running
    assert host.service("flotilla-scheduler").is_enabled
    assert host.socket("tcp://127.0.0.1:8181").is_listening
    assert not host.socket("tcp://0.0.0.0:8181").is_listening


def _get(host, token):
    url = f"https://{host.ansible.get_variables()['ansible_host']}:8443/v1/apps"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    context = ssl.create_default_context(cafile=str(CREDENTIALS / "ca.pem"))
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.loads(response.read())


def test_the_router_serves_the_api_with_the_cluster_ca_to_the_token_only(host):
    assert _get(host, (CREDENTIALS / "api-token").read_text().strip()) == {"apps": []}
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(host, None)
    assert refused.value.code == 401
