"""Create and delete a 100-machine cluster against each cloud's fake.

    python bench/cloud_scale.py --cloud aws|gcp|azure|all

Prints one JSON object per cloud: machines, API requests in all and per
machine (every request that reached the fake: reads, writes, retries and
polls, as the harness's ``total_calls`` counts them, less the harness's own
reads), and the wall time of creating and of deleting.
The real provider code runs; only the cloud is fake.

Azure runs twice on a fake with latency (each long operation takes several
polls and TIME_SCALE of Azure's seconds; each request its round trip): one
machine at a time, then concurrently, as the provider does; the second line
is the one whose calls count.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, the project root is not on the path; the fakes live in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioners import cluster  # noqa: E402
from provisioners.spec import build_spec  # noqa: E402

CLOUDS = ("aws", "gcp", "azure")
NAME = "bench"
COUNTS = {"masters": 3, "agents": 96, "public_agents": 1}


# Azure's fake: its seconds scaled by this (a VM's minute takes 0.6 s), and
# the provider polling as often, scaled alike.
TIME_SCALE = 0.01


def run(cloud, **variant):
    module = importlib.import_module(f"tests.clouds.{cloud}_fake")
    harness = module.Harness(**variant.get("harness", {}))
    with tempfile.TemporaryDirectory() as inventories, harness:
        os.environ["FLOTILLA_INVENTORIES"] = inventories
        options = {**harness.options(), **variant.get("options", {})}
        spec = build_spec({"name": NAME, "provider": harness.provider, **COUNTS, harness.provider: options})
        started = time.monotonic()
        cluster.provision(spec, wait=False)
        created = time.monotonic()
        calls = harness.total_calls
        machines = len(harness.machines(NAME))
        read = harness.total_calls - calls
        cluster.down(spec)
        deleted = time.monotonic()
        calls = harness.total_calls - read
        left = len(harness.machines(NAME))
    if left:
        raise SystemExit(f"{cloud}: {left} machines were left after `down`")
    return {
        "cloud": cloud,
        **({"variant": variant["name"]} if "name" in variant else {}),
        "machines": machines,
        "api_calls_total": calls,
        "api_calls_per_machine": round(calls / machines, 2),
        "create_seconds": round(created - started, 2),
        "delete_seconds": round(deleted - created, 2),
    }


def run_azure():
    from provisioners.providers import azure

    latency = {
        "harness": {"time_scale": TIME_SCALE},
        "options": {"polling_interval": azure.POLL_SECONDS * TIME_SCALE},
    }
    concurrent = azure.IN_FLIGHT
    try:
        azure.IN_FLIGHT = 1
        yield run("azure", name="serial", **latency)
    finally:
        azure.IN_FLIGHT = concurrent
    yield run("azure", name="concurrent", **latency)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", choices=(*CLOUDS, "all"), default="all")
    args = parser.parse_args()
    for cloud in CLOUDS if args.cloud == "all" else (args.cloud,):
        for result in run_azure() if cloud == "azure" else [run(cloud)]:
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
