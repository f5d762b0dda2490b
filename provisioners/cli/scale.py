import click
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import KINDS

from provisioners import cluster

from .options import where_from, where_options


@click.command("scale")
@where_options
@click.option("--masters", type=int, help="Masters to reach in total (default: as many as now).")
@click.option("--agents", type=int, help="Private agents to reach in total (default: as many as now).")
@click.option("--public-agents", type=int, help="Public agents to reach in total (default: as many as now).")
@click.option("--allow-even-masters", is_flag=True, default=None, help="Accept an even number of masters.")
def command(spec_file, name, provider, **totals):
    """Grow a running cluster to these totals, touching only the new nodes."""
    spec = where_from(spec_file, name, provider)
    nodes = cluster.scale(spec, **totals)
    have = cluster.counts(nodes)
    listed = ", ".join(f"{have[kind.count_key]} {kind.words}" for kind in KINDS)
    click.echo(f"cluster {spec.name} has grown: {spec.provider} lists {listed}.")
