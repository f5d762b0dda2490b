# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the cluster_info module, and hides any result that holds join tokens.

A join token lets any machine into the swarm. A module cannot mark its own
result as secret (Ansible strips such keys from module results), but an
action plugin can: a result with tokens is censored in every output, at every
verbosity, whether or not the task says no_log. The registered variable keeps
the tokens for the join that needs them.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(
            self._execute_module(
                module_name="flotilla.cluster.cluster_info", module_args=self._task.args, task_vars=task_vars
            )
        )
        if "join_tokens" in result:
            result["_ansible_no_log"] = True
        return result
