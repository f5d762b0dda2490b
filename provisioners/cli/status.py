import click

from provisioners import cluster

from .options import where_from, where_options

COLUMNS = ("NAME", "ROLE", "POOL", "MACHINE", "SWARM", "LEADER", "ADDRESS")


@click.command("status")
@where_options
def command(spec_file, name, provider):
    """Show every node, found by its tags: role, state, leader, address."""
    report = cluster.status(where_from(spec_file, name, provider))
    rows = [(r.name, r.role, r.pool, r.machine, r.swarm, "*" if r.leader else "", r.address) for r in report.nodes]
    widths = [max(len(str(v)) for v in column) for column in zip(COLUMNS, *rows, strict=True)]
    for row in (COLUMNS, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if report.unreadable:
        click.echo(f"\nthe swarm's membership cannot be read: {report.unreadable}.")
    elif report.routing_mesh is None:
        click.echo("\nno master answers for the swarm: its membership is unknown.")
    elif not report.routing_mesh:
        click.echo("\nrouting mesh: unavailable (no IPVS in this kernel); publish ports with mode=host.")
