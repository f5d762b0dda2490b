import sys

import click
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import KIND_GROUPS

from provisioners.inventory_check import check_inventory, cluster_hosts, format_problems
from provisioners.inventory_source import read_inventory


@click.command("check-inventory")
@click.argument("path", type=click.Path(dir_okay=False))
def command(path):
    """Check a hand-written inventory (YAML or INI); list every problem with its line."""
    source = read_inventory(path)
    problems = check_inventory(source)
    for line in format_problems(source, problems):
        click.echo(line)
    if problems:
        sys.exit(1)
    groups = [host.group for host in cluster_hosts(source)]
    counts = ", ".join(f"{group}: {groups.count(group)}" for group in KIND_GROUPS)
    click.echo(f"{path}: no problems ({counts}).")
