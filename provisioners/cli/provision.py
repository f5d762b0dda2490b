import click

from provisioners import cluster

from .options import spec_from, spec_options


@click.command("provision")
@spec_options
@click.option("--no-wait", is_flag=True, help="Return without waiting for the machines to answer SSH.")
def command(spec_file, no_wait, **overrides):
    """Create the cluster's machines (those missing) and write its inventory."""
    click.echo(cluster.provision(spec_from(spec_file, **overrides), wait=not no_wait))
