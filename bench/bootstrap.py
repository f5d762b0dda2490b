"""Time `flotilla up` of 3 masters + 3 agents from nothing, and a no-op re-run.

    python bench/bootstrap.py

Needs a Docker daemon; the base image is built first and not timed (it is
built once per machine). Prints one JSON object. Not a test: numbers vary
with the machine, so they are reported, not asserted.
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
NAME = "bench-boot"


def timed(*command, env):
    started = time.monotonic()
    subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def main():
    sys.path.insert(0, str(ROOT))
    import docker

    from provisioners.providers.local.image import ensure_image

    ensure_image(docker.from_env())
    with tempfile.TemporaryDirectory() as inventories:
        env = {**os.environ, "FLOTILLA_INVENTORIES": inventories}
        try:
            up = timed(
                FLOTILLA, "up", "--name", NAME, "--masters", "3", "--agents", "2", "--public-agents", "1", env=env
            )
            inventory = Path(inventories) / NAME / "hosts.yml"
            playbook = str(Path(sys.executable).parent / "ansible-playbook")
            rerun = timed(playbook, "-i", str(inventory), "site.yml", env=env)
        finally:
            subprocess.run([FLOTILLA, "down", "--name", NAME], env=env, check=False, stdout=subprocess.DEVNULL)
    print(json.dumps({"nodes": 6, "up_from_nothing_seconds": up, "noop_rerun_seconds": rerun}))


if __name__ == "__main__":
    main()
