# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary's quorum rules, for the playbooks (documented in even_masters_problem.yml)."""

from __future__ import annotations

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import even_masters_problem


class FilterModule:
    def filters(self):
        return {"even_masters_problem": even_masters_problem}
