"""Time the scheduler: 20 apps deployed at once, and an app scaled 2 -> 6 behind the edge.

    python bench/apps.py [--apps 20]

On a local cluster of 3 masters, 2 private agents and 1 public agent (made
first, not timed, and taken down at the end), with Flotilla's `hello` image
built here and pushed to the cluster's registry (not timed):
- deploy: every app (2 instances each) sent to the scheduler at once, then
  the seconds until the swarm runs every instance healthy;
- scale: an app exposed on the public edge, from 2 to 6 instances: the
  seconds until requests through the edge have been answered by 6 different
  tasks (new replicas that take traffic, not only replicas that run).
Prints one JSON object. Not a test: the numbers vary with the machine.
"""

import argparse
import http.client
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ansible_collections.flotilla.cluster.scheduler.outcome import DEPLOYING, HEALTHY, deployment_outcome

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAME = "bench-apps"
HOST = "front.bench"


def flotilla(*args):
    result = subprocess.run([str(BIN / "flotilla"), *args], check=True, cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip().splitlines()


def app(app_id, image, instances=2, **fields):
    health = {"http": "/health", "port": 8080, "grace": 5, "interval": 2, "timeout": 2, "retries": 2}
    return {"id": app_id, "image": image, "instances": instances, "health": health, **fields}


def wait_healthy(api, versions, timeout=900):
    """Wait until each deployment ({app id: version}) is healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {s["id"]: s for s in api.call("GET", "/v1/apps")["apps"]}
        outcomes = {i: deployment_outcome(states[i], v) if i in states else DEPLOYING for i, v in versions.items()}
        if set(outcomes.values()) == {HEALTHY}:
            return
        if set(outcomes.values()) - {HEALTHY, DEPLOYING}:
            raise RuntimeError(f"deployments that will not become healthy: {outcomes}")
        time.sleep(0.5)
    raise TimeoutError(f"not all of {len(versions)} apps healthy in {timeout} s")


def deploy(api, app_id, definition):
    return {app_id: api.call("PUT", f"/v1/apps/{app_id}", definition)["version"]}


def deploy_many(api, image, count):
    ids = [f"bench-{i}" for i in range(count)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        deployed = list(pool.map(lambda i: deploy(api, i, app(i, image)), ids))
    wait_healthy(api, {i: v for versions in deployed for i, v in versions.items()})
    seconds = round(time.monotonic() - started, 1)
    for app_id in ids:
        api.call("DELETE", f"/v1/apps/{app_id}")
    return seconds


def tasks_answering(edge, seen):
    connection = http.client.HTTPConnection(edge, 80, timeout=3)
    try:
        connection.request("GET", "/", headers={"Host": HOST})
        response = connection.getresponse()
        if response.status == 200:
            seen.add(json.loads(response.read())["task"])
    except OSError:
        pass
    finally:
        connection.close()


def scale_behind_edge(api, image, edge, timeout=600):
    wait_healthy(api, deploy(api, "front", app("front", image, expose={"port": 8080, "host": HOST})))
    definition = api.call("GET", "/v1/apps/front")["definition"]
    started = time.monotonic()
    api.call("PUT", "/v1/apps/front", {**definition, "instances": 6})
    seen = set()
    while len(seen) < 6:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"only {len(seen)} tasks answered through the edge in {timeout} s")
        tasks_answering(edge, seen)
    seconds = round(time.monotonic() - started, 1)
    api.call("DELETE", "/v1/apps/front")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import AGENT, PUBLIC, kind_of

    from provisioners.apps import scheduler_api
    from provisioners.cli.options import where_from
    from provisioners.providers.baremetal import read_inventory
    from provisioners.workspace import Workspace

    try:
        flotilla("up", "--name", NAME)
        built = flotilla("image", "build", "hello")[-1]
        image = flotilla("image", "push", built, "--name", NAME)[-1]
        api = scheduler_api(where_from(None, name=NAME))
        listed = read_inventory(str(Workspace(NAME).inventory_file))
        public = listed.hosts(kind_of(AGENT, PUBLIC).group)[0]
        edge = listed.hostvars[public]["ansible_host"]
        print(json.dumps({"deploy_seconds": deploy_many(api, image, args.apps), "apps": args.apps}), flush=True)
        print(json.dumps({"scale_2_to_6_seconds": scale_behind_edge(api, image, edge)}), flush=True)
    finally:
        flotilla("down", "--name", NAME)


if __name__ == "__main__":
    main()
