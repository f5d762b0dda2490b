import click

from provisioners import cluster

from .options import name_option


@click.command("scale")
@name_option
@click.option("--masters", type=int, help="Masters to reach in total.")
@click.option("--agents", type=int, help="Private agents to reach in total.")
@click.option("--public-agents", type=int, help="Public agents to reach in total.")
@click.option("--allow-even-masters", is_flag=True, default=None, help="Accept an even number of masters.")
def command(name, masters, agents, public_agents, allow_even_masters):
    """Grow a running cluster to these totals, touching only the new nodes."""
    cluster.scale(
        name, masters=masters, agents=agents, public_agents=public_agents, allow_even_masters=allow_even_masters
    )
    click.echo(f"cluster {name} has grown; `flotilla status --name {name}` shows it.")
