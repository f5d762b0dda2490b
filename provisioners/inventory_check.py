"""Check a hand-written inventory against what Flotilla's playbooks need.

Every problem is reported at once, each with the line to fix:

    source = read_inventory("hosts.yml")
    for line in format_problems(source, check_inventory(source)):
        print(line)                     # hosts.yml:12: unknown variable ...

The rules: groups masters and agents are children of cluster, and agents has
no children but agents_private and agents_public; every host is in exactly one
of masters, agents_private and agents_public; every host has an address; the
masters are odd in number unless flotilla_allow_even_masters is true; and
every variable is one something reads (Ansible's ansible_*, Flotilla's own,
a role's defaults), so that a typo is not silently ignored.

A host's address is its ansible_host, or its name when that is an IP address
or a fully qualified domain name: a short name resolves differently from one
machine to the next, and the swarm's members must agree on each address.
"""

import difflib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import (
    KIND_GROUPS,
    POOL_GROUPS,
    even_masters_problem,
)

from provisioners.collection import COLLECTION_ROOT
from provisioners.inventory_source import Problem

# Flotilla's own variables that an inventory may set.
FLOTILLA_VARIABLES = ("flotilla_advertise_address", "flotilla_allow_even_masters")
# Set by the master role's discover tasks during a run; a value from the
# inventory would only be overridden, or mislead.
SET_BY_ROLES = ("flotilla_manager", "flotilla_manager_answers")
# Any ansible_* name passes (connection plugins define dozens); these common
# ones only help "did you mean" catch a typo such as 'ansbile_user'.
ANSIBLE_VARIABLES = (
    "ansible_become",
    "ansible_become_password",
    "ansible_connection",
    "ansible_host",
    "ansible_password",
    "ansible_port",
    "ansible_python_interpreter",
    "ansible_ssh_common_args",
    "ansible_ssh_private_key_file",
    "ansible_user",
)
FQDN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)


@dataclass(frozen=True)
class ClusterHost:
    """A host's listing in a group that gives it its role."""

    name: str
    group: str  # masters, agents_private or agents_public
    line: int


def check_inventory(source, allow_even_masters=False, roles_dir=None):
    """Every problem of ``source`` (an InventorySource), in line order.

    ``allow_even_masters`` accepts an even number of masters as if the
    inventory set flotilla_allow_even_masters; ``roles_dir`` is where the
    roles whose defaults are known variables live.
    """
    if source.problems and not source.groups:
        # Nothing could be read (no file, or YAML that does not parse): the
        # rules below would only repeat that.
        return list(source.problems)
    hosts = cluster_hosts(source)
    problems = [
        *source.problems,
        *_check_groups(source),
        *_check_roles(source, hosts),
        *_check_addresses(source, hosts),
        *_check_masters(source, hosts, allow_even_masters),
        *_check_variables(source, known_variables(roles_dir)),
    ]
    return sorted(problems, key=lambda problem: problem.line)


def format_problems(source, problems):
    return [f"{source.path}:{problem.line}: {problem.message}" for problem in problems]


def cluster_hosts(source):
    """Every listing of a host in masters, agents_private or agents_public,
    their child groups included, in that order of groups."""
    hosts = []
    for group in KIND_GROUPS:
        for entry in _entries_under(source, group, set()):
            hosts.extend(ClusterHost(name, group, entry.line) for name in entry.names)
    return hosts


def _entries_under(source, name, seen):
    # ``seen`` lists each group once however many paths lead to it, and ends
    # a loop of groups (_check_groups reports those).
    if name in seen or name not in source.groups:
        return []
    seen.add(name)
    group = source.groups[name]
    entries = list(group.hosts)
    for child in group.children:
        entries.extend(_entries_under(source, child, seen))
    return entries


def host_setting(source, host, variable):
    """The Setting of ``variable`` among ``host``'s own variables; as in
    Ansible, the last listing that sets it wins."""
    settings = [entry.vars[variable] for entry in source.entries() if host in entry.names and variable in entry.vars]
    return settings[-1] if settings else None


def host_address(source, host):
    setting = host_setting(source, host, "ansible_host")
    return setting.value if setting else host


def known_variables(roles_dir=None):
    """Flotilla's own variables and every role's defaults, read from the roles
    themselves so that a new default is known at once."""
    names = set(FLOTILLA_VARIABLES)
    for defaults in sorted(Path(roles_dir or COLLECTION_ROOT / "roles").glob("*/defaults/main.yml")):
        names.update(yaml.safe_load(defaults.read_text(encoding="utf-8")) or {})
    return names


def _check_groups(source):
    groups = source.groups
    cluster = groups.get("cluster")
    if cluster is None:
        return [Problem(1, "there is no group 'cluster' to hold masters and agents; see inventories/sample/hosts.yml.")]
    problems = []
    for name in ("masters", "agents"):
        if name not in cluster.children:
            line = groups[name].line if name in groups else cluster.line
            problems.append(Problem(line, f"group '{name}' must be a child of group 'cluster'."))
    agents = groups.get("agents")
    for child, line in agents.children.items() if agents else ():
        if child not in POOL_GROUPS:
            message = f"group 'agents' has child '{child}'; its only children are agents_private and agents_public."
            problems.append(Problem(line, message))
    for name in POOL_GROUPS:
        if name in groups and (agents is None or name not in agents.children):
            problems.append(Problem(groups[name].line, f"group '{name}' must be a child of group 'agents'."))
    return problems + _check_loops(source)


def _check_loops(source):
    problems = []
    open_groups, done = set(), set()

    def visit(name):
        open_groups.add(name)
        for child, line in source.groups[name].children.items():
            if child in open_groups:
                problems.append(Problem(line, f"group '{name}' has child '{child}', which is also its ancestor."))
            elif child not in done:
                visit(child)
        open_groups.discard(name)
        done.add(name)

    for name in list(source.groups):
        if name not in done:
            visit(name)
    return problems


def _check_roles(source, hosts):
    listings = {}
    for host in hosts:
        listings.setdefault(host.name, []).append(host)
    problems = []
    for name, listed in listings.items():
        if len(listed) < 2:
            continue
        for host in listed:
            others = ", ".join(f"{other.group} (line {other.line})" for other in listed if other is not host)
            problems.append(
                Problem(
                    host.line,
                    f"host '{name}' is also listed in {others}; a host is in exactly one of "
                    "masters, agents_private and agents_public.",
                )
            )
    roleless = set()
    for entry in source.entries():
        for name in entry.names:
            if name not in listings and name not in roleless:
                roleless.add(name)
                problems.append(
                    Problem(
                        entry.line,
                        f"host '{name}' is in none of masters, agents_private and agents_public; "
                        "list it in the one that gives it its role.",
                    )
                )
    return problems


def _check_addresses(source, hosts):
    problems = []
    first_listing = {}
    for host in hosts:
        first_listing.setdefault(host.name, host)
    for name, host in first_listing.items():
        setting = host_setting(source, name, "ansible_host")
        if setting is None and not names_itself(name):
            problems.append(
                Problem(
                    host.line,
                    f"host '{name}' has no ansible_host, and its name is neither an IP address nor a "
                    "fully qualified domain name; set ansible_host to the address to reach it at.",
                )
            )
        elif setting is not None and not (isinstance(setting.value, str) and setting.value.strip()):
            message = f"ansible_host of host '{name}' must be an address, not {setting.value!r}."
            problems.append(Problem(setting.line, message))
    return problems


def names_itself(name):
    """Whether a host's name can serve as its address: an IP address or an FQDN."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return bool(FQDN.match(name))
    return True


def _check_masters(source, hosts, allow_even_masters):
    masters = source.groups.get("masters")
    if masters is None:
        return []
    count = len({host.name for host in hosts if host.group == "masters"})
    if count == 0:
        return [Problem(masters.line, "group 'masters' lists no host; a cluster needs at least one master.")]
    even = even_masters_problem(count)
    if even and not (allow_even_masters or _even_masters_allowed(source)):
        return [
            Problem(
                masters.line,
                f"{even}; list an odd number, "
                "or set flotilla_allow_even_masters: true in the vars of group 'cluster' if you mean it.",
            )
        ]
    return []


def _even_masters_allowed(source):
    # Ansible's own reading of true/yes/on/1, as the preflight's `| bool` does.
    from ansible.module_utils.parsing.convert_bool import boolean

    settings = [group.vars.get("flotilla_allow_even_masters") for group in source.groups.values()]
    return any(boolean(setting.value, strict=False) for setting in settings if setting)


def _check_variables(source, known):
    problems = []
    for group in source.groups.values():
        problems.extend(_unknown_variables(group.vars, known))
        for entry in group.hosts:
            problems.extend(_unknown_variables(entry.vars, known))
    return problems


def _unknown_variables(settings, known):
    for name, setting in settings.items():
        if name.startswith("ansible_") or name in known:
            continue
        if name in SET_BY_ROLES:
            yield Problem(setting.line, f"{name} is set by the master role during a run; remove it from the inventory.")
            continue
        close = difflib.get_close_matches(name, sorted(known) + list(ANSIBLE_VARIABLES), n=1)
        if close:
            yield Problem(setting.line, f"unknown variable '{name}' (did you mean '{close[0]}'?)")
        else:
            yield Problem(
                setting.line,
                f"unknown variable '{name}': the roles read Ansible's ansible_* variables, "
                f"{', '.join(FLOTILLA_VARIABLES)}, and those in roles/*/defaults/main.yml.",
            )
