# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the cluster_info module, and keeps join tokens out of every output.

A join token lets any machine into the swarm. A module cannot mark its own
result as secret (Ansible strips such keys from module results), and at -vvv
the connection prints the module's raw answer unless the task is no_log. An
action plugin can do both: when tokens are asked for, this task runs as
no_log whatever the caller wrote, so neither the connection's log nor the
result shows them, at any verbosity. The registered variable keeps them for
the join that needs them.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        secret = boolean(self._task.args.get("join_tokens", False), strict=False)
        if secret:
            # The connection logs the module's raw answer unless its own copy
            # of this task's play context says no_log.
            self._connection._play_context.no_log = True
        result.update(
            self._execute_module(
                module_name="flotilla.cluster.cluster_info", module_args=self._task.args, task_vars=task_vars
            )
        )
        if secret:
            result["_ansible_no_log"] = True
        return result
