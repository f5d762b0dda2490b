"""How a deployment stands: read from the tasks of the version it made, and
from the swarm's update status only where that status is about it."""

from scheduler.definition import parse_app
from scheduler.deploy import Apps
from scheduler.outcome import DEPLOYING, HEALTHY, REPLACED, ROLLED_BACK, STUCK, deployment_outcome
from scheduler.service import service_spec

IMAGE = "registry.flotilla:5000/web:1"


def state(version="v2", running=2, desired=2, deployment="completed"):
    return {"version": version, "running": running, "desired": desired, "deployment": deployment}


def test_a_version_running_healthy_everywhere_is_healthy_whatever_an_earlier_rollback_left():
    assert deployment_outcome(state(), "v2") == HEALTHY
    # The running version deployed again after a rollback: "unchanged", and healthy.
    assert deployment_outcome(state(deployment="rollback_completed"), "v2") == HEALTHY


def test_a_version_the_swarm_went_back_from_is_rolled_back_once_it_is_back():
    assert deployment_outcome(state(version="v1", deployment="rollback_started"), "v2") == DEPLOYING
    assert deployment_outcome(state(version="v1", deployment="rollback_completed"), "v2") == ROLLED_BACK
    assert deployment_outcome(state(version="v1", deployment="rollback_paused"), "v2") == STUCK
    assert deployment_outcome(state(version="v3", deployment="updating"), "v2") == REPLACED


def test_a_version_short_of_instances_or_still_updating_is_deploying():
    assert deployment_outcome(state(running=1), "v2") == DEPLOYING
    assert deployment_outcome(state(deployment="updating"), "v2") == DEPLOYING


class FakeSwarm:
    """One service, its tasks, and no update status (as swarmkit leaves it
    right after an update)."""

    def __init__(self, spec, tasks):
        self.spec = spec
        self.tasks_ = tasks

    def services(self, filters):
        return [{"ID": "s1", "Spec": self.spec}]

    def tasks(self, filters):
        return self.tasks_

    def inspect_node(self, node_id):
        return {"Description": {"Hostname": node_id}}


def task(spec, node):
    return {"NodeID": node, "Spec": spec["TaskTemplate"], "Status": {"State": "running"}}


def test_the_tasks_of_the_version_being_replaced_do_not_count_and_a_scale_replaces_none():
    old = service_spec(parse_app({"id": "web", "image": IMAGE, "instances": 2}))
    new = service_spec(parse_app({"id": "web", "image": IMAGE, "instances": 2, "env": {"V": "2"}}))
    # Just updated: the old version's two tasks still run, none of the new.
    swarm = FakeSwarm(new, [task(old, "agent-1"), task(old, "agent-2")])
    now = Apps(swarm).state("web")
    assert (now.running, now.desired, now.deployment) == (0, 2, "completed")
    assert deployment_outcome(vars(now), now.version) == DEPLOYING
    swarm.tasks_ = [task(new, "agent-1"), task(old, "agent-2")]
    assert Apps(swarm).state("web").nodes == ["agent-1"]
    # Scaled: a new version of the service, but the same tasks.
    scaled = service_spec(parse_app({"id": "web", "image": IMAGE, "instances": 3}))
    assert scaled["Labels"] != old["Labels"] and scaled["TaskTemplate"] == old["TaskTemplate"]
