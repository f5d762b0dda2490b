import click

from provisioners import cluster
from provisioners.workspace import Workspace

from .options import name_option


@click.command("inventory")
@name_option
@click.option("--path", "path_only", is_flag=True, help="Print only the inventory's path.")
def command(name, path_only):
    """Print the cluster's Ansible inventory (or its path)."""
    cluster.load_spec(name)
    workspace = Workspace(name)
    click.echo(workspace.inventory_file if path_only else workspace.inventory_file.read_text().rstrip())
