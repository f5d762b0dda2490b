"""Flotilla's library API: what every `flotilla` subcommand calls.

spec = build_spec({"name": "demo"})
up(spec)              # machines, inventory, then site.yml
status("demo")        # every node: role, state, leader, address
down("demo")          # every machine and resource of the cluster, gone
"""

import logging
import socket
import time
from dataclasses import dataclass

from provisioners import inventory, runner
from provisioners.errors import FlotillaError
from provisioners.progress import Progress
from provisioners.providers import provider_class
from provisioners.providers.base import NodeRequest, ProviderError
from provisioners.spec import build_spec
from provisioners.workspace import Workspace

log = logging.getLogger(__name__)

SSH_TIMEOUT = 300
NAME_PREFIX = {("master", "private"): "master", ("agent", "private"): "agent", ("agent", "public"): "public"}
COUNT_KEYS = {"masters": ("master", "private"), "agents": ("agent", "private"), "public_agents": ("agent", "public")}


def provider_for(spec, workspace):
    public_key = workspace.ensure_keypair()
    return provider_class(spec.provider)(spec, spec.options, public_key)


def load_spec(name):
    """The spec a cluster was provisioned from."""
    workspace = Workspace(name)
    if not workspace.exists():
        raise FlotillaError(
            f"there is no cluster '{name}' here ({workspace.path} does not exist); "
            "`flotilla provision` or `flotilla up` creates it."
        )
    spec = build_spec(workspace.load_spec_data())
    if spec.name != name:
        # A copied directory would otherwise act on the cluster it names.
        raise FlotillaError(
            f"{workspace.spec_file} describes cluster '{spec.name}', not '{name}'; "
            f"use --name {spec.name}, or remove the copy."
        )
    return spec


def plan_nodes(spec, existing):
    """The machines to create so that the cluster has what ``spec`` asks."""
    wanted = {role_pool: getattr(spec, key) for key, role_pool in COUNT_KEYS.items()}
    names = {node.name for node in existing}
    requests = []
    for (role, pool), count in wanted.items():
        have = sum(1 for node in existing if (node.role, node.pool) == (role, pool))
        index = 0
        for _ in range(count - have):
            index += 1
            while f"{spec.name}-{NAME_PREFIX[role, pool]}-{index}" in names:
                index += 1
            name = f"{spec.name}-{NAME_PREFIX[role, pool]}-{index}"
            names.add(name)
            requests.append(NodeRequest(name=name, role=role, pool=pool))
    return requests


def provision(spec, wait=True):
    """Create the machines ``spec`` asks for (those missing) and write the inventory.

    With ``wait`` it returns once every machine answers SSH.

    A re-run finds the machines by their tags and creates only what is
    missing. When creation fails with a ProviderError, the machines this run
    created are deleted again, and so are the shared resources when the
    cluster has no machine at all, so that nothing is left half-made.
    """
    workspace = Workspace(spec.name)
    fresh = not workspace.exists()
    recorded = None if fresh else workspace.load_spec_data()
    provider = provider_for(spec, workspace)
    if not fresh:
        _refuse_moving(spec, recorded, provider.location_options)
    try:
        provider.check()
    except ProviderError:
        if fresh:
            workspace.remove()
        raise
    workspace.save_spec(spec)
    existing = None  # unknown until the platform has been asked
    try:
        provider.prepare()
        existing = provider.list_nodes()
        _refuse_shrinking(spec, existing)
        requests = plan_nodes(spec, existing)
        if requests:
            log.info("creating %d machines: %s", len(requests), ", ".join(r.name for r in requests))
            provider.create_nodes(requests)
    except FlotillaError:
        _undo(provider, workspace, existing, fresh)
        if recorded is not None:
            # The cluster is as it was, and so is the spec that describes it.
            workspace.save_spec_data(recorded)
        raise
    nodes = provider.list_nodes()
    if provider.boots_machines:
        stopped = sorted(n.name for n in nodes if n.state != "running")
        if stopped:
            raise FlotillaError(
                f"{', '.join(stopped)} exist but are not running; start them, or take them out "
                "with `flotilla remove`, then run again."
            )
        if wait:
            wait_for_ssh(nodes)
    write_inventory(spec, workspace, provider, nodes)
    return workspace


def _refuse_moving(spec, recorded, location_options):
    """A cluster stays where it was made: elsewhere is another cluster."""
    if recorded.get("provider") != spec.provider:
        raise FlotillaError(
            f"cluster '{spec.name}' already exists on provider '{recorded.get('provider')}'; "
            f"`flotilla down --name {spec.name}` it first, or choose another name."
        )
    was = recorded.get(spec.provider) or {}
    for option in location_options:
        now = getattr(spec.options, option)
        if option in was and was[option] != now:
            raise FlotillaError(
                f"cluster '{spec.name}' lives in {spec.provider} {option} {was[option]!r}, not {now!r}; "
                f"`flotilla down --name {spec.name}` it first, or choose another name."
            )


def _refuse_shrinking(spec, existing):
    for key, (role, pool) in COUNT_KEYS.items():
        have = sum(1 for node in existing if (node.role, node.pool) == (role, pool))
        if have > getattr(spec, key):
            raise FlotillaError(
                f"cluster {spec.name} has {have} {key.replace('_', ' ')}, more than the {getattr(spec, key)} "
                "asked for; `flotilla remove NODE` takes nodes out one at a time."
            )


def _undo(provider, workspace, existing, fresh):
    """Delete what this run created, without touching what was there before.

    Shared resources go only when no machine of the cluster is left: the
    cluster may be alive even when this operator's files are new.
    """
    try:
        if existing is not None:
            before = {node.name for node in existing}
            created = sorted({node.name for node in provider.list_nodes()} - before)
            if created:
                log.warning("removing what this run created: %s", ", ".join(created))
                provider.delete_nodes(created)
        if fresh and not provider.list_nodes():
            provider.cleanup()
    except ProviderError as err:
        log.warning("could not remove everything this run created (%s); `flotilla down` retries", err)
        return
    if fresh:
        workspace.remove()


def write_inventory(spec, workspace, provider, nodes):
    text = provider.own_inventory() or inventory.render(
        spec,
        nodes,
        key_file=workspace.private_key_file,
        known_hosts_file=workspace.private_key_file.parent / "known_hosts",
        ssh_user=provider.ssh_user,
    )
    workspace.write_inventory(text)
    sample = provider.dynamic_inventory()
    if sample:
        filename, content = sample
        (workspace.path / filename).write_text(content)


def wait_for_ssh(nodes, timeout=SSH_TIMEOUT):
    """Return once every machine's sshd answers with its banner."""
    pending = {node.name: node.address for node in nodes}
    progress = Progress("machines answering SSH", len(pending))
    deadline = time.monotonic() + timeout
    while pending:
        for name, address in list(pending.items()):
            if _ssh_banner(address):
                del pending[name]
        progress.update(len(nodes) - len(pending))
        if pending and time.monotonic() > deadline:
            progress.close()
            raise FlotillaError(
                f"{', '.join(sorted(pending))} did not answer SSH within {timeout} s; "
                "check the machines' console, then run the same command again."
            )
        if pending:
            time.sleep(1)
    progress.close()


def _ssh_banner(address, port=22):
    try:
        with socket.create_connection((address, port), timeout=2) as conn:
            conn.settimeout(2)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def up(spec):
    """Provision the cluster and run site.yml on it; a re-run converges."""
    workspace = provision(spec)
    return runner.run_playbook(workspace.inventory_file, "site.yml")


def down(name):
    """Delete every machine and shared resource of the cluster, then its files."""
    workspace = Workspace(name)
    if not workspace.exists():
        log.info("cluster %s has no files here; nothing to delete", name)
        return
    spec = load_spec(name)
    provider = provider_for(spec, workspace)
    provider.check()
    provider.delete_nodes([node.name for node in provider.list_nodes()])
    provider.cleanup()
    workspace.remove()


@dataclass(frozen=True)
class NodeStatus:
    name: str
    role: str
    pool: str
    machine: str
    swarm: str
    leader: bool
    address: str


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list
    routing_mesh: bool | None  # None: no healthy master answered


def status(name):
    """Every machine of the cluster, with its membership as a master reports it."""
    spec = load_spec(name)
    workspace = Workspace(name)
    provider = provider_for(spec, workspace)
    provider.check()
    nodes = provider.list_nodes()
    report = read_swarm(workspace)
    members = {node["hostname"]: node for node in report.get("nodes", [])}
    rows = []
    for node in nodes:
        member = members.get(node.name)
        if member is None:
            swarm = "not a member"
        else:
            swarm = f"{member['state']}/{member['availability']}"
            if member["role"] == "master":
                swarm += f"/{member['reachability']}"
        rows.append(
            NodeStatus(
                name=node.name,
                role=member["role"] if member else node.role,
                pool=node.pool,
                machine=node.state,
                swarm=swarm,
                leader=bool(member and member["leader"]),
                address=node.address,
            )
        )
    return ClusterStatus(nodes=rows, routing_mesh=report.get("routing_mesh"))


def read_swarm(workspace):
    """cluster_info's report from the first healthy master; {} if none answers."""
    result = runner.run_module(workspace.inventory_file, "masters", "flotilla.cluster.cluster_info")
    return next((report for report in result.results.values() if report.get("healthy")), {})


def scale(name, masters=None, agents=None, public_agents=None, allow_even_masters=None):
    """Grow the cluster to these totals: new machines, then scale.yml on them only."""
    spec = load_spec(name)
    asked = {"masters": masters, "agents": agents, "public_agents": public_agents}
    shrinking = [
        f"{key} {value} < {getattr(spec, key)}"
        for key, value in asked.items()
        if value is not None and value < getattr(spec, key)
    ]
    if shrinking:
        raise FlotillaError(
            f"scale only grows a cluster ({', '.join(shrinking)}); remove nodes one at a "
            "time with `flotilla remove NODE`."
        )
    overrides = {**asked, "allow_even_masters": allow_even_masters}
    grown = build_spec(spec.to_dict(), overrides)
    workspace = provision(grown)
    return runner.run_playbook(workspace.inventory_file, "playbooks/scale.yml")


def remove(name, node):
    """Take ``node`` out of the swarm safely, then delete its machine."""
    spec = load_spec(name)
    workspace = Workspace(name)
    provider = provider_for(spec, workspace)
    provider.check()
    machines = {n.name: n for n in provider.list_nodes()}
    if node not in machines:
        raise FlotillaError(f"cluster {name} has no machine {node}; `flotilla status --name {name}` lists them.")
    runner.run_playbook(workspace.inventory_file, "playbooks/remove-node.yml", extravars={"node": node})
    provider.delete_nodes([node])
    del machines[node]
    left = list(machines.values())
    # The spec follows what is left, so that the next `flotilla up` does not
    # bring the node back; fewer masters may leave an even number.
    counts = {key: sum(1 for n in left if (n.role, n.pool) == role_pool) for key, role_pool in COUNT_KEYS.items()}
    smaller = build_spec({**spec.to_dict(), **counts, "allow_even_masters": counts["masters"] % 2 == 0})
    workspace.save_spec(smaller)
    write_inventory(smaller, workspace, provider, left)
