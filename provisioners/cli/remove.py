import click

from provisioners import cluster

from .options import where_from, where_options


@click.command("remove")
@where_options
@click.argument("node")
def command(spec_file, name, provider, node):
    """Take NODE out of the swarm without losing quorum, then delete its machine."""
    spec = where_from(spec_file, name, provider)
    if cluster.remove(spec, node):
        click.echo(f"{node} is no longer part of cluster {spec.name}, and {spec.provider} no longer lists its machine.")
    else:
        click.echo(f"{node} has left cluster {spec.name}; it keeps running: remove it from your inventory.")
