import sys

import click
import yaml
from ansible_collections.flotilla.cluster.scheduler.definition import DefinitionError, parse_app

from provisioners import apps

from .options import cluster_options, where_from

COLUMNS = ("ID", "VERSION", "RUNNING", "DESIRED", "DEPLOYMENT", "NODES")


@click.group("app")
def command():
    """Deploy and manage apps through the cluster's scheduler."""


def _api(spec_file, name, provider):
    return apps.scheduler_api(where_from(spec_file, name, provider))


def _progress(state):
    click.echo(f"  {state['running']}/{state['desired']} healthy, deployment {state['deployment']}", err=True)


def _refuse(problems):
    for problem in problems:
        click.echo(f"flotilla: error: {problem}", err=True)
    sys.exit(2)


@command.command("deploy")
@click.option("-f", "--file", "app_file", required=True, type=click.File(), help="App definition (YAML).")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait until healthy.")
@cluster_options
def deploy(app_file, timeout, spec_file, name, provider):
    """Deploy an app and wait until it is healthy (exit 1 if rolled back)."""
    try:
        app = parse_app(yaml.safe_load(app_file))
    except (DefinitionError, yaml.YAMLError) as err:
        _refuse(getattr(err, "problems", [f"{app_file.name} is not YAML: {err}"]))
    api = _api(spec_file, name, provider)
    try:
        change, state = apps.deploy(api, app, progress=_progress, timeout=timeout)
    except apps.APIError as err:
        _refuse(err.problems or [str(err)])
    click.echo(f"{app.id}: {change}, {state['running']} of {state['desired']} healthy on {', '.join(state['nodes'])}.")


@command.command("list")
@cluster_options
def list_apps(spec_file, name, provider):
    """Every app: version, instances running and desired, its nodes."""
    states = _api(spec_file, name, provider).call("GET", "/v1/apps")["apps"]
    rows = [(s["id"], s["version"], s["running"], s["desired"], s["deployment"], ",".join(s["nodes"])) for s in states]
    widths = [max(len(str(v)) for v in column) for column in zip(COLUMNS, *rows, strict=True)]
    for row in (COLUMNS, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@command.command("show")
@click.argument("app_id")
@cluster_options
def show(app_id, spec_file, name, provider):
    """An app's state, why any instance waits, and its definition."""
    answer = _api(spec_file, name, provider).call("GET", f"/v1/apps/{app_id}")
    state = answer["state"]
    click.echo(f"{app_id}: {state['running']} of {state['desired']} running, deployment {state['deployment']}")
    if state.get("home"):
        click.echo(f"  resident on {state['home']}: its volume lives there, and it never moves")
    for node in state["nodes"]:
        click.echo(f"  running on {node}")
    for reason in state["pending"]:
        click.echo(f"  waiting: {reason}")
    click.echo(yaml.safe_dump(answer["definition"], sort_keys=False).rstrip())


@command.command("scale")
@click.argument("app_id")
@click.argument("instances", type=click.IntRange(min=0))
@cluster_options
def scale(app_id, instances, spec_file, name, provider):
    """Run INSTANCES instances of the app."""
    api = _api(spec_file, name, provider)
    definition = api.call("GET", f"/v1/apps/{app_id}")["definition"]
    try:
        app = parse_app({**definition, "instances": instances})
        change, state = apps.deploy(api, app, progress=_progress)
    except DefinitionError as err:
        _refuse(err.problems)
    except apps.APIError as err:
        _refuse(err.problems or [str(err)])
    click.echo(f"{app_id}: {state['running']} of {state['desired']} healthy.")


@command.command("rollback")
@click.argument("app_id")
@cluster_options
def rollback(app_id, spec_file, name, provider):
    """Go back to the version deployed before this one."""
    answer = _api(spec_file, name, provider).call("POST", f"/v1/apps/{app_id}/rollback")
    click.echo(f"{app_id}: back to version {answer['version']}.")


@command.command("remove")
@click.argument("app_id")
@cluster_options
def remove(app_id, spec_file, name, provider):
    """Remove the app and its instances."""
    apps.remove(_api(spec_file, name, provider), app_id)
    click.echo(f"{app_id} is removed: the scheduler no longer lists it.")
