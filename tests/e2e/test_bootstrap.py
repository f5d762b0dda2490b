"""Bootstrapping one-master clusters: a master may run workloads when asked,
and `down` twice leaves nothing. (The default shape's bootstrap is read from
the shared platform cluster, in platform/test_bootstrap.py.)

Each test makes its own machines; the teardown checks that `flotilla down`
leaves nothing behind.
"""

from provisioners import runner
from tests.e2e import workload
from tests.e2e.conftest import cluster_up, take_down


def test_a_master_that_may_run_workloads_gets_tasks(docker_client):
    name = "e2e-mrw"
    master = f"{name}-master-1"
    machines_only = ("--masters", "1", "--agents", "0", "--public-agents", "0")
    with cluster_up(docker_client, name, *machines_only, command="provision") as machines:
        inventory = machines.workspace.inventory_file
        runner.run_playbook(inventory, "playbooks/site.yml", extravars={"master_runs_workloads": True})
        assert machines.members(through=master)[master]["availability"] == "active"
        workload.load_image(machines, workload.build_image(docker_client), [master])
        workload.create_service(machines, master, replicas=1, constraint=None)
        workload.wait_for_replicas(machines, master, replicas=1)
        assert workload.task_nodes(machines, master) == {master: ["running"]}
        assert workload.get(machines.address(master)) == workload.PAGE


def test_down_twice_leaves_nothing(docker_client):
    name = "e2e-down"
    machines_only = ("--masters", "1", "--agents", "0", "--public-agents", "0")
    with cluster_up(docker_client, name, *machines_only, command="provision") as machines:
        made = machines.leftovers()
        assert made["containers"] == [f"{name}-master-1"] and made["networks"] and made["volumes"], made
        take_down(docker_client, name)
        # Leaving the context takes it down a second time, checked the same way.
