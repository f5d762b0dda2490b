"""How a deployment stands, from its app's state as the API serves it: the
one reading that the CLI, the role and the benchmarks share.

    deployment_outcome(api.call("GET", "/v1/apps/web")["state"], version)

The state's ``running`` counts only the tasks of the version the service
runs now, so a new version is never taken for healthy on its old tasks.
"""

from __future__ import annotations

HEALTHY = "healthy"
DEPLOYING = "deploying"
ROLLED_BACK = "rolled back"
STUCK = "stuck"  # the rollback itself stopped
REPLACED = "replaced"  # another deployment came after it


def deployment_outcome(state, version):
    """One of the words above for the deployment of ``version``."""
    if state["version"] != version:
        # On a failed update the swarm puts the version before back at once,
        # then replaces the tasks: it is over only once they are back.
        return {
            "rollback_started": DEPLOYING,
            "rollback_completed": ROLLED_BACK,
            "rollback_paused": STUCK,
        }.get(state["deployment"], REPLACED)
    # A state left by an earlier rollback says nothing about this version.
    if state["running"] == state["desired"] and state["deployment"] not in ("updating", "rollback_started"):
        return HEALTHY
    return DEPLOYING
