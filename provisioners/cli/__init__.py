"""The `flotilla` command: a thin layer over provisioners.cluster."""

import logging
import sys

import click

from provisioners.errors import FlotillaError
from provisioners.spec import SpecError

from . import app, check_inventory, down, image, inventory, provision, remove, scale, status, up


class Group(click.Group):
    """Turns the errors users can act on into one line each, and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpecError as err:
            for problem in err.problems:
                click.echo(f"flotilla: error: {problem}", err=True)
            sys.exit(2)
        except FlotillaError as err:
            click.echo(f"flotilla: error: {err}", err=True)
            sys.exit(1)


@click.group(cls=Group)
@click.option("-v", "--verbose", is_flag=True, help="Log what flotilla does.")
def main(verbose):
    """Provision machines and bootstrap a Flotilla cluster on them."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="flotilla: %(message)s")


for module in (provision, up, status, scale, remove, down, inventory, check_inventory, app, image):
    main.add_command(module.command)
