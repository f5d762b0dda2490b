import click

from provisioners import cluster

from .options import name_option


@click.command("down")
@name_option
def command(name):
    """Delete every machine and resource of the cluster, and its files."""
    cluster.down(name)
    click.echo(f"cluster {name} is gone.")
