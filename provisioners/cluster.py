"""Flotilla's library API: what every `flotilla` subcommand calls.

    spec = build_spec({"name": "demo"})
    up(spec)              # machines, inventory, then site.yml
    status(spec)          # every machine found by its tags, with its membership
    scale(spec, agents=4) # grow to these totals; returns the machines listed afterwards
    remove(spec, "demo-agent-2")
    down(spec)            # every machine and resource, deleted and read back as gone

The provider is the truth: machines are found by their tags, where the spec
says the cluster lives (provider, its location, the name). The files kept on
this machine (see workspace) are a convenience: status, scale, remove and
down need only the spec, and the cluster's SSH key where a machine must be
reached. No command reports an outcome it has not read back.
"""

import logging
import socket
import time
from dataclasses import dataclass

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import KINDS, NAME_LABEL

from provisioners import inventory, runner
from provisioners.errors import FlotillaError
from provisioners.progress import Progress
from provisioners.providers import provider_class
from provisioners.providers.base import NodeRequest, ProviderError
from provisioners.spec import build_spec
from provisioners.workspace import Workspace

log = logging.getLogger(__name__)

SSH_TIMEOUT = 300


def provider_for(spec, workspace, generate_key=False):
    """The spec's provider. Only provision makes machines, so only it asks to
    ``generate_key``; the others get the key found here, or None."""
    cls = provider_class(spec.provider)
    public_key = workspace.ensure_keypair() if generate_key and cls.uses_cluster_key else workspace.public_key()
    return cls(spec, spec.options, public_key)


def counts(nodes):
    """How many machines of each kind, keyed by the spec's count keys."""
    return {kind.count_key: sum(1 for n in nodes if (n.role, n.pool) == (kind.role, kind.pool)) for kind in KINDS}


def plan_nodes(spec, existing):
    """The machines to create so that the cluster has what ``spec`` asks."""
    names = {node.name for node in existing}
    have = counts(existing)
    requests = []
    for kind in KINDS:
        index = 0
        for _ in range(getattr(spec, kind.count_key) - have[kind.count_key]):
            index += 1
            while f"{spec.name}-{kind.name_prefix}-{index}" in names:
                index += 1
            name = f"{spec.name}-{kind.name_prefix}-{index}"
            names.add(name)
            requests.append(NodeRequest(name=name, role=kind.role, pool=kind.pool))
    return requests


def provision(spec, wait=True):
    """Create the machines ``spec`` asks for (those missing) and return the inventory's path.

    With ``wait`` it returns once every machine answers SSH.

    A re-run finds the machines by their tags and creates only what is
    missing. When creation fails with a ProviderError, the machines this run
    created are deleted again, and so are the shared resources when the
    cluster has no machine at all, so that nothing is left half-made.
    """
    workspace = Workspace(spec.name)
    fresh = not workspace.exists()
    recorded = None if fresh else workspace.load_spec_data()
    provider = provider_for(spec, workspace, generate_key=True)
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
        # prepare may settle what the spec left open (AWS: the SSH range), once.
        workspace.save_spec(provider.spec)
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
            them, are = ("them", "exist but are") if len(stopped) > 1 else ("it", "exists but is")
            raise FlotillaError(
                f"{', '.join(stopped)} {are} not running; start {them}, or take {them} out "
                "with `flotilla remove`, then run again."
            )
        if wait:
            wait_for_ssh(nodes)
    return write_inventory(spec, workspace, provider, nodes)


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
    have = counts(existing)
    for kind in KINDS:
        if have[kind.count_key] > getattr(spec, kind.count_key):
            raise FlotillaError(
                f"cluster {spec.name} has {have[kind.count_key]} {kind.words}, more than the "
                f"{getattr(spec, kind.count_key)} asked for; `flotilla remove NODE` takes nodes out one at a time."
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
    """The inventory Ansible runs with: the provider's own (bare metal: the
    user's file, as it is), or one written here from the machines listed."""
    own = provider.inventory_path()
    if own is not None:
        return own
    text = inventory.render(
        spec,
        nodes,
        key_file=workspace.private_key_file,
        known_hosts_file=workspace.known_hosts_file,
        ssh_user=provider.ssh_user,
    )
    workspace.write_inventory(text)
    sample = provider.dynamic_inventory()
    if sample:
        filename, content = sample
        (workspace.path / filename).write_text(content)
    return workspace.inventory_file


def _missing_key(spec, workspace, provider):
    """Why Ansible cannot reach the machines from here, or None when it can."""
    if not provider.uses_cluster_key or workspace.public_key() is not None:
        return None
    return (
        f"the SSH key of cluster {spec.name} is not on this machine ({workspace.private_key_file}) "
        "and its machines accept no other"
    )


def _reachable_inventory(spec, workspace, provider, nodes, doing):
    """The inventory, written from the machines listed now; one sentence when the key is missing."""
    missing = _missing_key(spec, workspace, provider)
    if missing:
        raise FlotillaError(
            f"cannot {doing}: {missing}; run it where the cluster was made, or copy {workspace.path} here."
        )
    return write_inventory(spec, workspace, provider, nodes)


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
    return runner.run_playbook(provision(spec), "playbooks/site.yml")


def _listed(spec):
    workspace = Workspace(spec.name)
    provider = provider_for(spec, workspace)
    provider.check()
    return workspace, provider, provider.list_nodes()


def _require_machines(spec, nodes):
    if not nodes:
        raise FlotillaError(
            f"{spec.provider} lists no machine of cluster {spec.name}; check the spec's name and "
            f"{spec.provider} section, or create it with `flotilla up`."
        )


def down(spec):
    """Delete every machine and shared resource of the cluster, found by its
    tags, then its files here; twice is fine.

    Returns True once the provider, asked again, lists nothing of the
    cluster, and False for bare metal, whose machines are only forgotten.
    Raises FlotillaError naming what remains, keeping the files, otherwise.
    """
    workspace = Workspace(spec.name)
    provider = provider_for(spec, workspace)
    if not provider.owns_machines:
        # Nothing to ask the user's inventory: it may be gone already.
        workspace.remove()
        return False
    provider.check()
    provider.delete_cluster()
    remains = provider.remains()
    if remains:
        raise FlotillaError(
            f"cluster {spec.name} is not gone: {spec.provider} still lists {', '.join(remains)}; "
            "run `flotilla down` again, or delete them yourself."
        )
    workspace.remove()
    return True


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
    routing_mesh: bool | None  # None: no healthy master answered, or none could be asked
    unreadable: str | None = None  # why the membership could not be asked for at all


def status(spec):
    """Every machine of the cluster, found by its tags, with its membership as a master reports it."""
    workspace, provider, nodes = _listed(spec)
    _require_machines(spec, nodes)
    unreadable = _missing_key(spec, workspace, provider)
    report = {} if unreadable else read_swarm(write_inventory(spec, workspace, provider, nodes))
    # A member is known by its own hostname, or by the inventory name the
    # roles recorded on it (machines named by an alias keep their hostnames).
    members = {}
    for member in report.get("nodes", []):
        members.setdefault(member["hostname"], member)
        members[member["labels"].get(NAME_LABEL, member["hostname"])] = member
    rows = []
    for node in nodes:
        member = members.get(node.name)
        if unreadable:
            swarm = "unknown"
        elif member is None:
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
    return ClusterStatus(nodes=rows, routing_mesh=report.get("routing_mesh"), unreadable=unreadable)


def read_swarm(inventory_file):
    """cluster_info's report from the first healthy master; {} if none answers."""
    result = runner.run_module(inventory_file, "masters", "flotilla.cluster.cluster_info")
    return next((report for report in result.results.values() if report.get("healthy")), {})


def scale(spec, masters=None, agents=None, public_agents=None, allow_even_masters=None):
    """Grow the cluster to these totals (a total not given: what it has now),
    new machines first, then scale.yml on them only. Returns the machines the
    provider lists afterwards."""
    workspace, provider, existing = _listed(spec)
    _require_machines(spec, existing)
    missing = _missing_key(spec, workspace, provider)
    if missing:
        # New machines would get a new key, and the old ones stay out of reach.
        raise FlotillaError(
            f"cannot scale: {missing}; run it where the cluster was made, or copy {workspace.path} here."
        )
    have = counts(existing)
    asked = {"masters": masters, "agents": agents, "public_agents": public_agents}
    smaller = [key for key, value in asked.items() if value is not None and value < have[key]]
    shrinking = [f"{key} {asked[key]} < {have[key]}" for key in smaller]
    if shrinking:
        raise FlotillaError(
            f"scale only grows a cluster ({', '.join(shrinking)}); remove nodes one at a "
            "time with `flotilla remove NODE`."
        )
    totals = {key: have[key] if value is None else value for key, value in asked.items()}
    grown = build_spec(spec.to_dict(), {**totals, "allow_even_masters": allow_even_masters})
    runner.run_playbook(provision(grown), "playbooks/scale.yml")
    return provider.list_nodes()


def remove(spec, node):
    """Take ``node`` out of the swarm safely, then delete its machine and read it back as gone.

    Returns True when the machine was deleted, False for bare metal (it keeps
    running, listed in the user's inventory).
    """
    workspace, provider, nodes = _listed(spec)
    if node not in {n.name for n in nodes}:
        raise FlotillaError(
            f"{spec.provider} lists no machine {node} in cluster {spec.name}; `flotilla status` lists them."
        )
    inventory_file = _reachable_inventory(spec, workspace, provider, nodes, f"remove {node}")
    # A removal may leave an even number of masters (the membership module
    # warns); the guard stays the user's for the shapes they ask for.
    extravars = {"node": node, "flotilla_allow_even_masters": True}
    runner.run_playbook(inventory_file, "playbooks/remove-node.yml", extravars=extravars)
    if not provider.owns_machines:
        return False
    provider.delete_nodes([node])
    left = provider.list_nodes()
    if node in {n.name for n in left}:
        raise FlotillaError(
            f"{node} has left the swarm, but {spec.provider} still lists its machine; "
            f"run `flotilla remove {node}` again to delete it."
        )
    _remember_counts(workspace, left)
    write_inventory(spec, workspace, provider, left)
    return True


def _remember_counts(workspace, nodes):
    """The remembered spec keeps the user's choices but no longer asks for the
    removed machine, so that the next `flotilla up` does not bring it back.
    Its allow_even_masters stays as the user set it: when the removal leaves
    an even number of masters, the next `flotilla up` asks for an odd
    number or for the flag."""
    if workspace.exists():
        workspace.save_spec_data({**workspace.load_spec_data(), **counts(nodes)})


def inventory_file(spec):
    """The cluster's inventory, written from the machines listed now."""
    workspace, provider, nodes = _listed(spec)
    _require_machines(spec, nodes)
    return _reachable_inventory(spec, workspace, provider, nodes, "write the inventory")
