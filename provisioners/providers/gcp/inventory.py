"""A sample inventory for the google.cloud.gcp_compute plugin.

It finds the same machines as the static hosts.yml, live, by their labels,
and puts them in the same groups (masters, agents_private, agents_public).
"""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY

from provisioners.providers.sample_inventory import keyed_groups

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
  - labels.{tag_managed_by} = "{managed_by}"
hostnames:
  - name
compose:
  ansible_host: networkInterfaces[0].accessConfigs[0].natIP | default(networkInterfaces[0].networkIP)
  ansible_user: "'{ssh_user}'"
  # compose values are expressions: a YAML bool here is dropped (ansible-core
  # 2.19 wants a string), and the roles would run without root.
  ansible_become: "true"
  flotilla_advertise_address: networkInterfaces[0].networkIP
  common_set_hostname: true
{keyed_groups}"""


def render(cluster, options):
    """``(file name, YAML text)`` of the sample for this cluster."""
    text = TEMPLATE.format(
        cluster=cluster,
        file_name=FILE_NAME,
        project=options.project,
        zone=options.zone,
        tag_cluster=TAG_CLUSTER,
        tag_managed_by=TAG_MANAGED_BY,
        managed_by=MANAGED_BY,
        keyed_groups=keyed_groups("labels"),
        ssh_user=options.ssh_user,
    )
    return FILE_NAME, text
