import click

from provisioners import images
from provisioners.providers.local import docker_client


@click.group("image")
def command():
    """Build Flotilla's images from Debian packages (recipes under images/)."""


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
