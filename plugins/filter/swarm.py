# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the swarm from what the masters report: the master that speaks for
it, and the names its members go by."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def swarm_manager(hosts, hostvars, allow_bootstrap=True, probe="master_swarm"):
    """The master to act through, from each master's cluster_info result.

    ``hosts`` are the masters that may be chosen; each one's result is read
    from its ``probe`` variable. A healthy manager of the existing swarm wins
    (the leader first), wherever it stands in the inventory. A new swarm is
    founded, on the first master by name, only when ``allow_bootstrap`` and
    every master answered that it belongs to none: a master that could not be
    read may be the one that holds the swarm.
    Returns ``{"host": <inventory name>, "bootstrap": <whether to found>}``.
    """
    probes = {host: hostvars[host].get(probe) or {} for host in hosts}
    # A probe that did not run (unreachable, no engine yet) reports no "member".
    reports = {host: r for host, r in probes.items() if "member" in r}
    unread = {
        host: " ".join(str(r.get("msg", "no answer")).split()) for host, r in probes.items() if host not in reports
    }
    healthy = [host for host, r in reports.items() if r.get("healthy")]
    if healthy:
        swarms = {reports[h].get("swarm_id") for h in healthy}
        if len(swarms) > 1:
            raise AnsibleFilterError(
                f"the masters belong to {len(swarms)} different swarms ({', '.join(sorted(healthy))}); "
                "make them leave all but one, then run again."
            )
        healthy.sort(key=lambda h: (not _leads(reports[h]), h))
        return {"host": healthy[0], "bootstrap": False}
    members = sorted(h for h, r in reports.items() if r.get("member"))
    if members:
        raise AnsibleFilterError(
            f"masters {', '.join(members)} belong to a swarm but none can answer for it (quorum "
            "is lost); bring enough managers back, or recover with `docker swarm init "
            "--force-new-cluster` on one of them, then run again."
        )
    if unread or not reports:
        why = "; ".join(f"{host}: {msg}" for host, msg in sorted(unread.items()))
        raise AnsibleFilterError(f"no healthy master could be read to find the swarm ({why or 'no masters'}).")
    if not allow_bootstrap:
        raise AnsibleFilterError("no master belongs to a swarm yet; bootstrap the cluster with site.yml first.")
    return {"host": sorted(reports)[0], "bootstrap": True}


def member_names(nodes):
    """Every name a member answers to: its hostname, and the inventory name
    the roles recorded on it (cluster_info's ``nodes``, each a node summary).
    Machines keep their own hostnames unless asked, so an inventory name is
    found among these, not among the hostnames alone."""
    return sorted({name for node in nodes for name in (node.get("hostname"), node.get("inventory_name")) if name})


def _leads(report):
    return report.get("leader") == report.get("hostname")


class FilterModule:
    def filters(self):
        return {"swarm_manager": swarm_manager, "member_names": member_names}
