"""Time adding one agent to a running cluster of 4 nodes and of 10 nodes.

    python bench/grow.py

Adding a node should cost the same whatever the cluster's size: scale.yml
touches only the new node and reads the masters. Prints one JSON object
with both times and their ratio (target: under 1.3). Needs a Docker daemon.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOTILLA = str(Path(sys.executable).parent / "flotilla")
MASTERS = 3


def flotilla(*args, env):
    subprocess.run([FLOTILLA, *args], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def add_one_agent(nodes, env):
    name = f"bench-grow-{nodes}"
    agents = nodes - MASTERS
    flotilla("up", "--name", name, "--masters", str(MASTERS), "--agents", str(agents), "--public-agents", "0", env=env)
    try:
        started = time.monotonic()
        flotilla("scale", "--name", name, "--agents", str(agents + 1), env=env)
        return round(time.monotonic() - started, 1)
    finally:
        flotilla("down", "--name", name, env=env)


def main():
    with tempfile.TemporaryDirectory() as inventories:
        env = {**os.environ, "FLOTILLA_INVENTORIES": inventories}
        small = add_one_agent(4, env)
        large = add_one_agent(10, env)
    print(
        json.dumps(
            {"add_agent_to_4_seconds": small, "add_agent_to_10_seconds": large, "ratio": round(large / small, 2)}
        )
    )


if __name__ == "__main__":
    main()
