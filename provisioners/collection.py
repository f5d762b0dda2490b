"""Where the collection flotilla.cluster (playbooks, roles, ansible.cfg) is installed.

The wheel carries it as the package ansible_collections.flotilla.cluster; an
editable install maps that package onto the source tree. Either way the
collection's root is found from one of its own files, never from this
package's place.
"""

from pathlib import Path

from ansible_collections.flotilla.cluster.plugins.module_utils import vocabulary

# plugins/module_utils/vocabulary.py -> the collection's root
COLLECTION_ROOT = Path(vocabulary.__file__).resolve().parents[2]
