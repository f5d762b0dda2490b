"""The floor for bootstrap.py: a 3-master, 3-agent swarm with nothing but the essential steps.

    python bench/bare_swarm.py [--name NAME]

On the local provider's base image and machine options: create six
containers, wait for systemd, then on all six at once
`apt-get update && apt-get install --no-install-recommends docker.io`,
`swarm init` on the first, two manager joins, three worker joins, drain the
masters, and wait until every member is ready. No checks, no idempotence, no
Ansible: what any bootstrap of this swarm has to pay. Takes everything down
afterwards and prints the seconds as JSON. Needs a Docker daemon.
"""

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTERS = 3
AGENTS = 3
LABEL = "org.flotilla.bench"
INSTALL = "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io"


def run(container, command):
    result = container.exec_run(["sh", "-c", command])
    if result.exit_code:
        raise RuntimeError(f"{container.name}: `{command}` failed: {result.output.decode()[-500:]}")
    return result.output.decode().strip()


def wait_booted(container):
    while container.exec_run(["systemctl", "is-system-running"]).output.decode().strip() not in ("running", "degraded"):
        time.sleep(0.5)


def bare_swarm(client, image, name):
    """Bring the swarm up; return its machines."""
    from provisioners.providers.local.machine import create_machine

    labels = {LABEL: name}
    network = client.networks.create(name, driver="bridge", labels=labels).name
    names = [f"{name}-master-{i}" for i in range(1, MASTERS + 1)] + [f"{name}-agent-{i}" for i in range(1, AGENTS + 1)]
    machines = [create_machine(client, image, n, labels, network, public_key="") for n in names]
    for machine in machines:
        wait_booted(machine)
    with ThreadPoolExecutor(len(machines)) as pool:
        list(pool.map(lambda m: run(m, f"{INSTALL} && systemctl start docker"), machines))
    leader, *managers = machines[:MASTERS]
    leader.reload()
    address = leader.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    run(leader, f"docker swarm init --advertise-addr {address}")
    manager_token = run(leader, "docker swarm join-token -q manager")
    worker_token = run(leader, "docker swarm join-token -q worker")
    for manager in managers:
        run(manager, f"docker swarm join --token {manager_token} {address}:2377")
    with ThreadPoolExecutor(AGENTS) as pool:
        list(pool.map(lambda m: run(m, f"docker swarm join --token {worker_token} {address}:2377"), machines[MASTERS:]))
    for master in names[:MASTERS]:
        run(leader, f"docker node update --availability drain {master}")
    while run(leader, "docker node ls --format '{{.Status}}'").split() != ["Ready"] * len(machines):
        time.sleep(0.2)
    return machines


def take_down(client, name):
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}={name}"}):
        container.remove(force=True)
    for resource in [
        *client.volumes.list(filters={"label": f"{LABEL}={name}"}),
        *client.networks.list(filters={"label": f"{LABEL}={name}"}),
    ]:
        resource.remove()


def timed_bare_swarm(client, image, name):
    """Seconds from nothing to a drained, ready swarm; everything is taken down after."""
    try:
        started = time.monotonic()
        bare_swarm(client, image, name)
        return round(time.monotonic() - started, 1)
    finally:
        take_down(client, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="bench-boot-bare", help="prefix of the machines' names")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import docker

    from provisioners.providers.local.image import ensure_image

    client = docker.from_env()
    seconds = timed_bare_swarm(client, ensure_image(client), args.name)
    print(json.dumps({"nodes": MASTERS + AGENTS, "bare_swarm_seconds": seconds}))


if __name__ == "__main__":
    main()
