# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""App definitions checked as the scheduler checks them, and how a deployment
stands, read as the CLI reads it (documented in app_problems.yml and
deployment_outcome.yml)."""

from __future__ import annotations

from ansible_collections.flotilla.cluster.scheduler.definition import DefinitionError, parse_apps
from ansible_collections.flotilla.cluster.scheduler.outcome import deployment_outcome


def app_problems(apps, where="scheduler_apps"):
    """Every problem of a list of app definitions, each with its field; [] when none."""
    try:
        parse_apps(apps, where=where)
    except DefinitionError as err:
        return err.problems
    return []


class FilterModule:
    def filters(self):
        return {"app_problems": app_problems, "deployment_outcome": deployment_outcome}
