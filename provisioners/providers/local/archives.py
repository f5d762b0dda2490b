"""Images the local machines load instead of building them.

The scheduler role builds the edge's image on every public agent
(flotilla.cluster.image), which from Debian packages takes most of a
minute and a half per cluster. The local provider's machines share this
host, so it builds the image here once, with the same builder and so under
the same tag, saves it into a cache directory, and mounts that directory
read-only at the place where the module looks for saved images.
"""

import logging
import os
from pathlib import Path

from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners import images as recipes

# The recipes the roles build on the public agents.
PUBLIC_AGENT_RECIPES = ("edge",)

log = logging.getLogger(__name__)


def archives_dir():
    """This host's cache of saved images, under $XDG_CACHE_HOME when set."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "flotilla" / "image-archives"


def ensure_archives(client, directory, public_agents):
    """Make the cache, and in it the public agents' images when there are any."""
    directory.mkdir(parents=True, exist_ok=True)
    if not public_agents:
        return
    for name in PUBLIC_AGENT_RECIPES:
        ref = images.recipe_ref(recipes.recipe_dir(name))
        if os.path.isfile(images.archive_path(directory, ref)):
            continue
        log.info("building %s once on this host for the public agents (about a minute)", ref)
        recipes.build(client, [name])
        images.save_archive(client, ref, directory)
