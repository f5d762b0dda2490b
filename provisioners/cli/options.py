"""Options several subcommands share."""

import click

from provisioners.providers import NAMES
from provisioners.spec import NAME_PATTERN, build_spec, read_spec_file
from provisioners.workspace import Workspace

DEFAULT_NAME = "flotilla"


def spec_options(command):
    """The cluster spec: a file, and flags that override its keys."""
    options = [
        click.option("-f", "--spec", "spec_file", type=click.Path(dir_okay=False), help="Cluster spec (YAML)."),
        click.option("--name", help="Cluster name (default: flotilla)."),
        click.option("--provider", type=click.Choice(NAMES), help="Where the machines run (default: local)."),
        click.option("--masters", type=int, help="Number of masters (default: 3)."),
        click.option("--agents", type=int, help="Number of private agents (default: 2)."),
        click.option("--public-agents", type=int, help="Number of public agents (default: 1)."),
        click.option("--allow-even-masters", is_flag=True, default=None, help="Accept an even number of masters."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def spec_from(spec_file, **overrides):
    """The spec from the file, or else the one the cluster was made from, with the flags over it.

    Without a file, a re-run of `flotilla up --name N` keeps N's own counts
    and provider rather than falling back to the defaults.
    """
    if spec_file:
        data = read_spec_file(spec_file)
    else:
        workspace = Workspace(overrides.get("name") or DEFAULT_NAME)
        data = workspace.load_spec_data() if workspace.exists() else {}
    return build_spec(data, overrides)


def _check_name(ctx, param, value):
    if not NAME_PATTERN.match(value):
        raise click.BadParameter("use 2 to 32 lower-case letters, digits and '-', starting with a letter.")
    return value


def name_option(command):
    return click.option("--name", default=DEFAULT_NAME, show_default=True, callback=_check_name, help="Cluster name.")(
        command
    )
