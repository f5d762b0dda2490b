import sys

import click

from provisioners import registry

from .options import cluster_options, where_from


@click.group("image")
def command():
    """Images for the cluster's apps, in the cluster's own registry."""


@command.command("push")
@click.argument("image")
@cluster_options
def push(image, spec_file, name, provider):
    """Push IMAGE from this machine's Docker into the cluster registry, and
    print the reference apps use for it."""
    try:
        reference = registry.push(where_from(spec_file, name, provider), image)
    except registry.PushRefused as err:
        click.echo(f"flotilla: error: {err}", err=True)
        sys.exit(2)
    click.echo(f"{image} is in the cluster registry; apps use it as:")
    click.echo(reference)
