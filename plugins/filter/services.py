# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare the swarm's services at two moments (documented in services_below.yml)."""

from __future__ import annotations

import json


def _running(lines):
    # `docker service ls --format '{{json .}}'`: one object a line, with
    # Replicas such as "2/3", "2/2 (max 1 per node)" or "0/1 (1/1 completed)".
    services = {}
    for line in lines:
        service = json.loads(line)
        services[service["Name"]] = int(service["Replicas"].split("/", 1)[0])
    return services


def services_below(now, before):
    """Services that run fewer tasks ``now`` than ``before``, as "NAME (N of M running)"."""
    running = _running(now)
    return [
        f"{name} ({running.get(name, 0)} of {count} running)"
        for name, count in sorted(_running(before).items())
        if running.get(name, 0) < count
    ]


class FilterModule:
    def filters(self):
        return {"services_below": services_below}
