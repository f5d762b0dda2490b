"""A sample inventory for the google.cloud.gcp_compute plugin.

It finds the same machines as the static hosts.yml, live, by their labels,
and puts them in the same groups (masters, agents_private, agents_public).
"""

from provisioners.providers.base import TAG_CLUSTER, TAG_POOL, TAG_ROLE

FILE_NAME = "gcp_compute.yml"

TEMPLATE = """\
# The machines of cluster {cluster}, read from GCP by their labels:
#   ansible-inventory -i {file_name} --graph
# Needs the google.cloud collection and `pip install google-auth requests`;
# hosts.yml next to this file holds the SSH settings and cluster variables.
plugin: google.cloud.gcp_compute
projects:
  - {project}
zones:
  - {zone}
auth_kind: application
filters:
  - labels.{tag_cluster} = "{cluster}"
  - labels.managed-by = "flotilla"
hostnames:
  - name
compose:
  ansible_host: networkInterfaces[0].accessConfigs[0].natIP | default(networkInterfaces[0].networkIP)
  ansible_user: "'{ssh_user}'"
  ansible_become: true
  flotilla_advertise_address: networkInterfaces[0].networkIP
  flotilla_cluster_name: "'{cluster}'"
keyed_groups:
  # No prefix and no separator: the group is the key itself.
  # masters and agents, children of cluster
  - key: labels['{tag_role}'] ~ 's'
    prefix: ""
    separator: ""
    parent_group: cluster
  # agents_private and agents_public, children of agents
  - key: "('agents_' ~ labels['{tag_pool}']) if labels['{tag_role}'] == 'agent' else ''"
    prefix: ""
    separator: ""
    parent_group: agents
"""


def render(cluster, options):
    """``(file name, YAML text)`` of the sample for this cluster."""
    text = TEMPLATE.format(
        cluster=cluster,
        file_name=FILE_NAME,
        project=options.project,
        zone=options.zone,
        tag_cluster=TAG_CLUSTER,
        tag_role=TAG_ROLE,
        tag_pool=TAG_POOL,
        ssh_user=options.ssh_user,
    )
    return FILE_NAME, text
