"""Create and delete a 100-machine cluster against each cloud's fake.

    python bench/cloud_scale.py --cloud aws|gcp|azure|all

Prints one JSON object per run: machines, API requests in all and per
machine (every request that reached the fake: reads, writes, retries and
polls, as the harness's ``total_calls`` counts them, less the harness's own
reads), and the wall time of creating and of deleting.
The real provider code runs; only the cloud is fake.

GCP and Azure run twice, on fakes with latency: "serial" with one operation
at a time, "concurrent" with the provider's own bound. GCP's fake is as slow
as Compute scaled down tenfold (each answer 0.05 s, each operation at least
2 s); Azure's takes several polls and TIME_SCALE of Azure's seconds per long
operation, each request its round trip.
"""

import argparse
import contextlib
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
GCP_LATENCY = {"request": 0.05, "operation": 2.0}
# Azure's fake: its seconds scaled by this (a VM's minute takes 0.6 s), and
# the provider polling as often, scaled alike.
TIME_SCALE = 0.01


def run(cloud, mode=None, harness_args=None, options=None, setup=None):
    harness = importlib.import_module(f"tests.clouds.{cloud}_fake").Harness(**(harness_args or {}))
    with tempfile.TemporaryDirectory() as inventories, harness:
        if setup is not None:
            setup(harness)
        os.environ["FLOTILLA_INVENTORIES"] = inventories
        options = {**harness.options(), **(options or {})}
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
        **({"mode": mode} if mode else {}),
        "machines": machines,
        "api_calls_total": calls,
        "api_calls_per_machine": round(calls / machines, 2),
        "create_seconds": round(created - started, 2),
        "delete_seconds": round(deleted - created, 2),
    }


@contextlib.contextmanager
def bound(module, name, value):
    """The provider's concurrency bound set to ``value`` for one run."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def aws_runs():
    yield run("aws")


def gcp_runs():
    from provisioners.providers.gcp import api
    from tests.clouds.gcp_fake import Latency

    def slow(harness):
        harness.fake.latency = Latency(**GCP_LATENCY)

    with bound(api, "PARALLEL", 1):
        yield run("gcp", "serial", setup=slow)
    yield run("gcp", "concurrent", setup=slow)


def azure_runs():
    from provisioners.providers import azure

    latency = {
        "harness_args": {"time_scale": TIME_SCALE},
        "options": {"polling_interval": azure.POLL_SECONDS * TIME_SCALE},
    }
    with bound(azure, "IN_FLIGHT", 1):
        yield run("azure", "serial", **latency)
    yield run("azure", "concurrent", **latency)


RUNS = {"aws": aws_runs, "gcp": gcp_runs, "azure": azure_runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", choices=(*CLOUDS, "all"), default="all")
    args = parser.parse_args()
    for cloud in CLOUDS if args.cloud == "all" else (args.cloud,):
        for result in RUNS[cloud]():
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
