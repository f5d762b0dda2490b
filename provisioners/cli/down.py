import click

from provisioners import cluster

from .options import where_from, where_options


@click.command("down")
@where_options
def command(spec_file, name, provider):
    """Delete every machine and resource of the cluster, found by its tags, and its files."""
    spec = where_from(spec_file, name, provider)
    if cluster.down(spec):
        click.echo(f"cluster {spec.name} is gone: {spec.provider} lists nothing of it.")
    else:
        click.echo(f"cluster {spec.name} is forgotten here; its machines keep running, as bare metal is never deleted.")
