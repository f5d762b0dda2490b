import click

from provisioners import cluster

from .options import spec_from, spec_options


@click.command("provision")
@spec_options
def command(spec_file, **overrides):
    """Create the cluster's machines (those missing) and write its inventory."""
    workspace = cluster.provision(spec_from(spec_file, **overrides))
    click.echo(workspace.inventory_file)
