import click

from provisioners import cluster

from .options import where_from, where_options


@click.command("inventory")
@where_options
@click.option("--path", "path_only", is_flag=True, help="Print only the inventory's path.")
def command(spec_file, name, provider, path_only):
    """Print the cluster's Ansible inventory (or its path), written from the machines listed now."""
    path = cluster.inventory_file(where_from(spec_file, name, provider))
    click.echo(path if path_only else path.read_text().rstrip())
