"""Create and delete a 100-machine cluster against each cloud's fake.

    python bench/cloud_scale.py --cloud aws|gcp|azure|all

Prints one JSON object per cloud: machines, API requests in all and per
machine (every request that reached the fake: reads, writes, retries and
polls, as the harness's ``total_calls`` counts them), and the wall time of
creating and of deleting.
The real provider code runs; only the cloud is fake.

GCP runs twice against a fake as slow as Compute, scaled down tenfold (each
answer 0.05 s, each operation at least 2 s): "serial" with one operation at
a time, "concurrent" with the provider's bound (api.PARALLEL).
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
GCP_LATENCY = {"request": 0.05, "operation": 2.0}


def gcp_runs():
    """(mode, what to do to the harness) for each GCP run."""
    from provisioners.providers.gcp import api
    from tests.clouds.gcp_fake import Latency

    def slow(parallel):
        def setup(harness):
            harness.fake.latency = Latency(**GCP_LATENCY)
            api.PARALLEL = parallel

        return setup

    return [("serial", slow(1)), ("concurrent", slow(api.PARALLEL))]


def runs(cloud):
    return gcp_runs() if cloud == "gcp" else [(None, lambda harness: None)]


def run(cloud, mode, setup):
    harness = importlib.import_module(f"tests.clouds.{cloud}_fake").Harness()
    with tempfile.TemporaryDirectory() as inventories, harness:
        setup(harness)
        os.environ["FLOTILLA_INVENTORIES"] = inventories
        spec = build_spec({"name": NAME, "provider": harness.provider, **COUNTS, harness.provider: harness.options()})
        started = time.monotonic()
        cluster.provision(spec, wait=False)
        created = time.monotonic()
        machines = len(harness.machines(NAME))
        cluster.down(spec)
        deleted = time.monotonic()
        left = len(harness.machines(NAME))
        calls = harness.total_calls
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cloud", choices=(*CLOUDS, "all"), default="all")
    args = parser.parse_args()
    for cloud in CLOUDS if args.cloud == "all" else (args.cloud,):
        for mode, setup in runs(cloud):
            print(json.dumps(run(cloud, mode, setup)), flush=True)


if __name__ == "__main__":
    main()
