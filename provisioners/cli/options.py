"""Options several subcommands share."""

import click
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import KINDS

from provisioners.providers import NAMES
from provisioners.spec import build_spec, read_spec_file
from provisioners.workspace import Workspace

DEFAULT_NAME = "flotilla"

_SPEC_FILE = click.option("-f", "--spec", "spec_file", type=click.Path(dir_okay=False), help="Cluster spec (YAML).")
_NAME = click.option("--name", help="Cluster name (default: flotilla).")
_PROVIDER = click.option("--provider", type=click.Choice(NAMES), help="Where the machines run (default: local).")


# For commands whose -f is their own file (`flotilla app deploy -f app.yml`).
_SPEC_FILE_LONG = click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="Cluster spec (YAML).")


def _apply(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def spec_options(command):
    """The cluster spec: a file, and flags that override its keys."""
    return _apply(
        command,
        [
            _SPEC_FILE,
            _NAME,
            _PROVIDER,
            click.option("--masters", type=int, help="Number of masters (default: 3)."),
            click.option("--agents", type=int, help="Number of private agents (default: 2)."),
            click.option("--public-agents", type=int, help="Number of public agents (default: 1)."),
            click.option("--allow-even-masters", is_flag=True, default=None, help="Accept an even number of masters."),
        ],
    )


def where_options(command):
    """Where a cluster lives: the spec file, or the flags that say it."""
    return _apply(command, [_SPEC_FILE, _NAME, _PROVIDER])


def cluster_options(command):
    """Where a cluster lives, for commands that keep -f for their own file."""
    return _apply(command, [_SPEC_FILE_LONG, _NAME, _PROVIDER])


def _spec_data(spec_file, name):
    """The file's spec, or else the one remembered here for the cluster, or nothing."""
    if spec_file:
        return read_spec_file(spec_file)
    workspace = Workspace(name or DEFAULT_NAME)
    return workspace.load_spec_data() if workspace.exists() else {}


def spec_from(spec_file, **overrides):
    """The spec from the file, or else the one the cluster was made from, with the flags over it.

    Without a file, a re-run of `flotilla up --name N` keeps N's own counts
    and provider rather than falling back to the defaults.
    """
    return build_spec(_spec_data(spec_file, overrides.get("name")), overrides)


def where_from(spec_file, name=None, provider=None):
    """The spec of a cluster to act on as it is: only where it lives counts.

    Its counts are left out (the machines are found by their tags, and a
    remembered spec may hold an even number of masters that a removal left);
    the user's allow_even_masters stays.
    """
    counts = {kind.count_key for kind in KINDS}
    data = {key: value for key, value in _spec_data(spec_file, name).items() if key not in counts}
    return build_spec(data, {"name": name, "provider": provider})
