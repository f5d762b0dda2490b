"""Time `flotilla up` of 3 masters + 3 agents against a bare swarm, and no-op re-runs.

    python bench/bootstrap.py [--rounds N]

Each round, in this order on the same base image: bench/bare_swarm.py's
swarm (the floor: only the essential steps), `flotilla up` of 3 masters,
2 private agents and 1 public agent from nothing to a healthy drained
swarm, then a no-op `flotilla up` and a no-op `ansible-playbook site.yml` of
that cluster, which is then taken down. Alternating the two bootstraps in
one run lets both see the same machine load and mirror. Prints one JSON
object with each measure's median and the ratio up / bare (goals: ratio
<= 1.3, no-op up < 15 s, no-op site.yml < 12 s). Needs a Docker daemon; the
base image is built first if missing, and not timed. Not a test: numbers
vary with the machine, so they are reported, not asserted.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAME = "bench-boot"


def timed(*command, env):
    started = time.monotonic()
    subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def flotilla_round(env, inventories):
    flotilla = str(BIN / "flotilla")
    try:
        up = timed(flotilla, "up", "--name", NAME, "--masters", "3", "--agents", "2", "--public-agents", "1", env=env)
        noop_up = timed(flotilla, "up", "--name", NAME, env=env)
        inventory = str(Path(inventories) / NAME / "hosts.yml")
        noop_site = timed(str(BIN / "ansible-playbook"), "-i", inventory, "site.yml", env=env)
    finally:
        subprocess.run([flotilla, "down", "--name", NAME], env=env, check=True, stdout=subprocess.DEVNULL)
    return up, noop_up, noop_site


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import docker

    from bench.bare_swarm import timed_bare_swarm
    from provisioners.providers.local.image import ensure_image

    client = docker.from_env()
    image = ensure_image(client)
    runs = {"bare": [], "up": [], "noop_up": [], "noop_site": []}
    with tempfile.TemporaryDirectory() as inventories:
        env = {**os.environ, "FLOTILLA_INVENTORIES": inventories}
        for _ in range(args.rounds):
            runs["bare"].append(timed_bare_swarm(client, image, f"{NAME}-bare"))
            up, noop_up, noop_site = flotilla_round(env, inventories)
            runs["up"].append(up)
            runs["noop_up"].append(noop_up)
            runs["noop_site"].append(noop_site)
            # Each round as it ends: a long run under load says how it goes.
            print(json.dumps({key: values[-1] for key, values in runs.items()}), file=sys.stderr, flush=True)
    median = {key: round(statistics.median(values), 1) for key, values in runs.items()}
    print(
        json.dumps(
            {
                "nodes": "3 masters, 2 private agents, 1 public agent",
                "rounds": runs,
                "bare_swarm_seconds": median["bare"],
                "up_from_nothing_seconds": median["up"],
                "ratio_up_to_bare": round(median["up"] / median["bare"], 2),
                "noop_up_seconds": median["noop_up"],
                "noop_site_yml_seconds": median["noop_site"],
            }
        )
    )


if __name__ == "__main__":
    main()
