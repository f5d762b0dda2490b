"""Requests per second through the public edge against straight to one replica.

    python bench/edge.py --name CLUSTER [--seconds 5] [--concurrency 8] [--rounds 3]

On a running cluster (the scheduler role with its edge): deploys an app of
two instances exposed as bench.example, then runs ONE client (Python's
http.client, N threads, a new connection per request as most clients do)
in a container on the public agent, attached to the apps' network, which
alternates, round after round, between the edge (the agent's port 80, Host
header) and one replica (its task address, port 8080). Prints the medians
and the ratio edge / direct (the issue's goal: at least 0.8), then removes
the app. Needs a Docker daemon and the cluster's inventory.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ansible_collections.flotilla.cluster.scheduler.definition import parse_app  # noqa: E402

from provisioners import apps, cluster  # noqa: E402
from provisioners.cli.options import where_from  # noqa: E402
from provisioners.providers.baremetal import read_inventory  # noqa: E402
from tests.e2e import who  # noqa: E402

APP = "edg-bench"
HOST = "bench.example"

# Runs in the edge's own image (its python3): the same client for both targets.
CLIENT = r"""
import http.client, json, socket, sys, threading, time
edge, host, app, seconds, concurrency, rounds, path = sys.argv[1:]
seconds, concurrency, rounds = float(seconds), int(concurrency), int(rounds)
replica = sorted(socket.gethostbyname_ex("tasks." + app)[2])[0]

def measure(address, port, headers):
    counts = [[0, 0] for _ in range(concurrency)]
    deadline = time.monotonic() + seconds
    def work(mine):
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection(address, port, timeout=10)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                mine[0 if response.status == 200 else 1] += 1
            except OSError:
                mine[1] += 1
    threads = [threading.Thread(target=work, args=(mine,)) for mine in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(c[0] for c in counts) / seconds, sum(c[1] for c in counts)

results = {"edge": [], "direct": [], "failed": 0}
for _ in range(rounds):
    for name, address, port, headers in (("edge", edge, 80, {"Host": host}), ("direct", replica, 8080, {})):
        rate, failed = measure(address, port, headers)
        results[name].append(round(rate, 1))
        results["failed"] += failed
print(json.dumps(results))
"""


def run(*command, stdin=None):
    return subprocess.run(command, input=stdin, capture_output=True, check=True).stdout.decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="flotilla", help="the cluster's name")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="the client's threads")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    spec = where_from(None, args.name, None)
    api = apps.scheduler_api(spec)
    listed = read_inventory(str(cluster.inventory_file(spec)))
    master, public = listed.hosts("masters")[0], listed.hosts("agents_public")[0]
    tarball = who.build_image(docker.from_env())
    for agent in listed.hosts("agents"):
        run("docker", "exec", "-i", agent, "docker", "load", stdin=tarball)
    edge_image = run(
        "docker", "exec", master, "docker", "service", "inspect", "flotilla-edge",
        "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
    ).strip()  # fmt: skip
    address = listed.hostvars[public]["ansible_host"]
    apps.deploy(api, parse_app(who.definition(APP, HOST)))
    try:
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(f"http://{address}{who.PATH}", headers={"Host": HOST})
            try:
                urllib.request.urlopen(request, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        output = run(
            "docker", "exec", public, "docker", "run", "--rm", "--network", "flotilla-apps",
            "--entrypoint", "python3", edge_image, "-c", CLIENT, address, HOST, APP,
            str(args.seconds), str(args.concurrency), str(args.rounds), who.PATH,
        )  # fmt: skip
    finally:
        apps.remove(api, APP)
    results = json.loads(output)
    edge, direct = statistics.median(results["edge"]), statistics.median(results["direct"])
    print(
        json.dumps(
            {
                "edge_requests_per_second": edge,
                "direct_requests_per_second": direct,
                "ratio": round(edge / direct, 2),
                "rounds": results,
                "concurrency": args.concurrency,
            }
        )
    )


if __name__ == "__main__":
    main()
