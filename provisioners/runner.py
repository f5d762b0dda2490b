"""Run the collection's playbooks and modules through ansible-runner.

The playbooks and roles are those of the installed collection
``flotilla.cluster`` (in an editable install, the checkout itself), and
Ansible's settings are passed here through its environment variables, so
that a ``pip install`` of flotilla runs without the checkout's ansible.cfg.
"""

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provisioners.collection import COLLECTION_ROOT
from provisioners.errors import FlotillaError


@dataclass(frozen=True)
class RunResult:
    rc: int
    status: str
    stats: dict
    results: dict  # host -> the last task's result, for module runs


def _collections_path(root):
    # Installed, the collection sits at <dir>/ansible_collections/flotilla/cluster;
    # a checkout links itself there under collections/.
    if root.parent.parent.name == "ansible_collections":
        return root.parents[2]
    return root / "collections"


def _envvars():
    root = COLLECTION_ROOT
    # The ansible commands live beside the Python that runs flotilla (a
    # virtualenv's bin/), which need not be on the caller's PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    return {
        "PATH": path,
        "ANSIBLE_ROLES_PATH": str(root / "roles"),
        "ANSIBLE_COLLECTIONS_PATH": str(_collections_path(root)),
        "ANSIBLE_INTERPRETER_PYTHON": "auto_silent",
        "ANSIBLE_FORKS": "20",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
        "ANSIBLE_NOCOLOR": "0" if sys.stdout.isatty() else "1",
    }


def run_playbook(inventory, playbook, extravars=None):
    """Run ``playbook`` (a path inside the collection, such as "playbooks/scale.yml") and fail unless it passes."""
    result = _run(
        playbook=str(COLLECTION_ROOT / playbook),
        inventory=str(inventory),
        extravars=extravars or {},
    )
    if result.rc != 0:
        failed = sorted(set(result.stats.get("failures") or {}) | set(result.stats.get("dark") or {}))
        where = f" on {', '.join(failed)}" if failed else ""
        reasons = [_reason(r) for h, r in result.results.items() if h in failed and _reason(r)]
        # A module's message may span lines; the CLI's error is one.
        why = f": {' '.join(str(reasons[0]).split())}" if reasons else "; the output above says why."
        raise FlotillaError(f"{playbook} failed{where}{why}")
    return result


def _reason(result):
    """Why a task failed; for a loop, its first failed item's message rather
    than Ansible's "One or more items failed"."""
    items = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    return (items[0] if items else result).get("msg")


def run_module(inventory, hosts, module, args=None, check=False):
    """Run one module on ``hosts`` (in check mode, with diff) and return each host's result."""
    return _run(
        module=module,
        # JSON keeps values with spaces, quotes or '=' whole (ansible reads
        # arguments that start with '{' as JSON).
        module_args=json.dumps(args) if args else None,
        host_pattern=hosts,
        inventory=str(inventory),
        cmdline="--check --diff" if check else None,
        quiet=True,
    )


def _run(**kwargs):
    import ansible_runner

    results = {}

    def collect(event):
        data = event.get("event_data", {})
        kind = event.get("event")
        if kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            res = data.get("res") or {}
            if kind == "runner_on_unreachable":
                res = {**res, "unreachable": True}
            # A failure ignored by its task (ignore_errors, ignore_unreachable)
            # must not hide the one that stopped the run.
            if kind == "runner_on_ok" or not data.get("ignore_errors"):
                results[data.get("host")] = res
        return True

    with tempfile.TemporaryDirectory(prefix="flotilla-run-") as private_dir:
        runner = ansible_runner.run(
            # The private directory is also the working directory, so no
            # ansible.cfg of the caller's current directory applies.
            private_data_dir=private_dir,
            envvars=_envvars(),
            event_handler=collect,
            # Artifacts would keep every event on disk; the results are all we need.
            rotate_artifacts=1,
            **kwargs,
        )
        return RunResult(
            rc=runner.rc,
            status=runner.status,
            stats=runner.stats or {},
            results=results,
        )
