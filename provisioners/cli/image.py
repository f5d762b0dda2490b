import sys

import click

from provisioners import images, registry
from provisioners.providers.local import docker_client

from .options import cluster_options, where_from


@click.group("image")
def command():
    """Build Flotilla's images from Debian packages, and push images into the cluster's registry."""


@command.command("build")
@click.argument("names", nargs=-1, required=True)
def build(names):
    """Build shipped recipes on this host's Docker and print each reference.

    An image whose recipe has not changed is not built again.
    """
    for ref, _ in images.build(docker_client(), names, progress=_said):
        click.echo(ref)


def _said(ref, built):
    click.echo(f"{ref}: {'built' if built else 'already built'}", err=True)


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
