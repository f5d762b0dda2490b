"""The recipes shipped with Flotilla, built on the operator's Docker engine.

The build itself is the collection's builder (plugins/module_utils/images.py),
which the module flotilla.cluster.image runs on nodes: one recipe has one tag
wherever it is built.
"""

from ansible_collections.flotilla.cluster.plugins.module_utils import images

from provisioners.collection import COLLECTION_ROOT
from provisioners.errors import FlotillaError

# images/<name>/: a Dockerfile on Flotilla's Debian base, and its files.
RECIPES = COLLECTION_ROOT / "images"


def shipped():
    """The names of the recipes shipped with Flotilla."""
    return sorted(path.name for path in RECIPES.iterdir() if (path / "Dockerfile").is_file())


def recipe_dir(name):
    """A shipped recipe's directory, or one sentence naming the ones there are."""
    if name not in shipped():
        raise FlotillaError(f"there is no image recipe {name!r}: choose from {', '.join(shipped())}.")
    return RECIPES / name


def build(client, names, progress=lambda ref, built: None):
    """Build the named recipes (and the base when missing); return [(reference, built)] in order."""
    directories = [recipe_dir(name) for name in names]  # refuse an unknown name before building any
    results = []
    for directory in directories:
        try:
            ref, built = images.build_recipe(client, directory)
        except images.ImageError as err:
            raise FlotillaError(str(err)) from None
        progress(ref, built)
        results.append((ref, built))
    return results
