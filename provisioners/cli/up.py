import click

from provisioners import cluster

from .options import spec_from, spec_options


@click.command("up")
@spec_options
def command(spec_file, **overrides):
    """Provision the machines and bootstrap the cluster; running it again converges."""
    spec = spec_from(spec_file, **overrides)
    cluster.up(spec)
    click.echo(f"cluster {spec.name} is up; `flotilla status --name {spec.name}` shows it.")
