"""Options several subcommands share."""

import click

from provisioners.providers import NAMES
from provisioners.spec import build_spec, read_spec_file

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
    data = read_spec_file(spec_file) if spec_file else {}
    return build_spec(data, overrides)


def name_option(command):
    return click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")(command)
