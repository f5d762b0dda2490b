import click

from provisioners import cluster

from .options import name_option


@click.command("remove")
@name_option
@click.argument("node")
def command(name, node):
    """Take NODE out of the swarm without losing quorum, then delete its machine."""
    cluster.remove(name, node)
    click.echo(f"{node} is no longer part of cluster {name}.")
