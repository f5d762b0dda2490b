"""A cluster's apps, through its scheduler: what every `flotilla app` command calls.

    api = scheduler_api(spec)             # any master's admin router, TLS and token
    deploy(api, parse_app(data), progress) # waits until healthy; raises when rolled back
    api.call("GET", "/v1/apps")

The scheduler's API is reached through the admin router of each master in
turn, so a master that is down costs one connection attempt. The CA and the
token are those the scheduler role left beside the cluster's inventory.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import KINDS, MASTER
from ansible_collections.flotilla.cluster.scheduler import outcome as outcomes
from ansible_collections.flotilla.cluster.scheduler.outcome import deployment_outcome

from provisioners import cluster
from provisioners.errors import FlotillaError
from provisioners.providers.baremetal import read_inventory

# The scheduler role's defaults: where it keeps the credentials, beside the
# inventory (scheduler_credentials_dir), and its routers' port
# (scheduler_router_port). An inventory that sets either is read for it.
CREDENTIALS = ".credentials"
ROUTER_PORT = 8443
# A 5xx: nginx's own page when the scheduler behind it does not answer, or
# the scheduler's JSON when the swarm would not do it (during a leader
# election, say). Every master's scheduler is the same, so the next master
# is asked; if every one refuses, the last reason is said.
ROUTER_ONLY = (502, 503, 504)
# After a 504, a scheduler's refusal or no answer in time, the swarm may
# have done the request, or half of it: only these are safe to send again (a
# deploy of the same definition is "unchanged"; a rollback sent twice goes
# back twice).
TIMED_OUT = 504
REPEATABLE = ("GET", "PUT")
# How a deployment that will not become healthy is said.
UNHEALTHY = {
    outcomes.ROLLED_BACK: "the new version did not become healthy and was rolled back.",
    outcomes.STUCK: "the new version did not become healthy, and going back stopped too.",
    outcomes.REPLACED: "another deployment of the app came before this one was healthy.",
}


class APIError(FlotillaError):
    """The scheduler answered no, with its reasons (and the HTTP status)."""

    def __init__(self, message, problems=(), status=None):
        super().__init__(message)
        self.problems = list(problems)
        self.status = status


@dataclass
class SchedulerAPI:
    routers: list[str]  # base URLs, one per master
    ca_file: Path
    token: str
    timeout: float = 30

    def call(self, method, path, body=None):
        """The API's JSON answer; APIError with its reasons for a 4xx/5xx,
        FlotillaError when no router answers."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        data = None if body is None else json.dumps(body).encode()
        unreachable, refusal = [], None
        for router in self.routers:
            request = urllib.request.Request(f"{router}{path}", data=data, method=method)
            request.add_header("Authorization", f"Bearer {self.token}")
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, context=context, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    raise FlotillaError(
                        f"the scheduler at {router} refused the API token in {self.ca_file.parent}; "
                        "re-run site.yml to restore the credentials it made."
                    ) from err
                answer = _json_or_nothing(err.read())
                if err.code in ROUTER_ONLY and "error" in answer and method in REPEATABLE:
                    refusal = APIError(answer["error"], answer.get("problems", ()), err.code)
                    unreachable.append(f"{router} ({answer['error']})")
                    continue
                if err.code in ROUTER_ONLY and "error" not in answer:
                    if err.code == TIMED_OUT and method not in REPEATABLE:
                        raise _maybe_done(router, f"answered {err.code}", method, path) from err
                    unreachable.append(f"{router} (its router answers {err.code}: the scheduler behind it is down)")
                    continue
                raise APIError(answer.get("error", f"HTTP {err.code}"), answer.get("problems", ()), err.code) from err
            except urllib.error.URLError as err:
                # Raised before the request was sent whole: nothing was done.
                unreachable.append(f"{router} ({err.reason})")
            except OSError as err:
                # Sent, and no answer in time.
                if method not in REPEATABLE:
                    raise _maybe_done(router, f"did not answer ({err})", method, path) from err
                unreachable.append(f"{router} ({err})")
        if refusal is not None:
            raise refusal
        raise FlotillaError(f"no master's scheduler answers: {', '.join(unreachable)}.")


def _maybe_done(router, what, method, path):
    return FlotillaError(
        f"the router at {router} {what} to {method} {path}, so the scheduler may or may not have done it; "
        "see `flotilla app show` before sending it again."
    )


def _json_or_nothing(body):
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


def _masters(listed):
    return listed.hosts(next(kind.group for kind in KINDS if kind.role == MASTER))


def _setting(listed, host, name, default):
    """A role variable as the inventory sets it for ``host``, or the role's default."""
    value = listed.hostvars.get(host, {}).get(name, default)
    if isinstance(value, str) and "{{" in value:
        raise FlotillaError(
            f"the inventory sets {name} to a template ({value}), which only Ansible can render;"
            " give it a plain value for the flotilla command to read."
        )
    return value


def credentials_dir(inventory_file, listed):
    """Where the scheduler role keeps the cluster's CA and secrets."""
    masters = _masters(listed)
    given = _setting(listed, masters[0], "scheduler_credentials_dir", None) if masters else None
    return Path(inventory_file).parent / CREDENTIALS if given is None else Path(given)


def routers(listed):
    """Each master's admin router, as a base URL."""
    return [
        f"https://{listed.hostvars.get(host, {}).get('ansible_host', host)}"
        f":{_setting(listed, host, 'scheduler_router_port', ROUTER_PORT)}"
        for host in _masters(listed)
    ]


def scheduler_api(spec):
    """The API of the cluster ``spec`` names, through every master's router."""
    inventory_file = Path(cluster.inventory_file(spec))
    listed = read_inventory(str(inventory_file))
    credentials = credentials_dir(inventory_file, listed)
    token_file, ca_file = credentials / "api-token", credentials / "ca.pem"
    if not token_file.exists() or not ca_file.exists():
        raise FlotillaError(
            f"{credentials} holds no scheduler credentials; "
            "run site.yml (or flotilla up) with the scheduler role first."
        )
    return SchedulerAPI(routers(listed), ca_file, token_file.read_text().strip())


def remove(api, app_id):
    """Remove the app, and read back that the scheduler no longer knows it."""
    api.call("DELETE", f"/v1/apps/{app_id}")
    try:
        api.call("GET", f"/v1/apps/{app_id}")
    except APIError as err:
        # Only "no such app" says it is gone; any other refusal says nothing.
        if err.status == 404:
            return
        raise
    raise FlotillaError(f"{app_id} is still listed after its removal.")


def deploy(api, app, progress=None, timeout=300, interval=1.0):
    """Deploy ``app`` and wait until the swarm runs it healthy: the final
    state. Raises FlotillaError when the swarm rolled it back or the time ran out."""
    from ansible_collections.flotilla.cluster.scheduler.definition import to_data

    deployment = api.call("PUT", f"/v1/apps/{app.id}", to_data(app))
    deadline = time.monotonic() + timeout
    while True:
        state = api.call("GET", f"/v1/apps/{app.id}")["state"]
        if progress is not None:
            progress(state)
        outcome = deployment_outcome(state, deployment["version"])
        if outcome == outcomes.HEALTHY:
            return deployment["change"], state
        if outcome in UNHEALTHY:
            raise FlotillaError(f"{app.id}: {UNHEALTHY[outcome]}")
        if time.monotonic() > deadline:
            why = f": {state['pending'][0]}" if state["pending"] else ""
            raise FlotillaError(f"{app.id}: {state['running']} of {state['desired']} healthy after {timeout} s{why}.")
        time.sleep(interval)
