import click

from provisioners import cluster

from .options import name_option


@click.command("scale")
@name_option
@click.option("--masters", type=int, help="Masters to reach in total.")
@click.option("--agents", type=int, help="Private agents to reach in total.")
@click.option("--public-agents", type=int, help="Public agents to reach in total.")
def command(name, masters, agents, public_agents):
    """Grow a running cluster to these totals, touching only the new nodes."""
    cluster.scale(name, masters=masters, agents=agents, public_agents=public_agents)
    click.echo(f"cluster {name} has grown; `flotilla status --name {name}` shows it.")
