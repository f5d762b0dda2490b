"""A sample inventory for the azure.azcollection.azure_rm plugin.

It finds the same machines as the static inventory, by the same tags, and
puts them in the same groups; useful where machines come and go outside
`flotilla` and Ansible should see the cloud's current truth.
"""

from provisioners.providers.base import TAG_CLUSTER, TAG_POOL, TAG_ROLE

TEMPLATE = """\
# Sample inventory for the azure.azcollection.azure_rm plugin, written by
# `flotilla provision` for cluster {cluster}. Use it instead of hosts.yml with
#   ansible-playbook -i inventories/{cluster}/azure_rm.yml \\
#     --private-key inventories/{cluster}/ssh/id_ed25519 site.yml
# The plugin signs in as the SDKs do (AZURE_* variables, or `az login`).
plugin: azure.azcollection.azure_rm
auth_source: auto
include_vm_resource_groups:
  - {group}
plain_host_names: true
exclude_host_filters:
  - tags['{tag_cluster}'] | default('') != '{cluster}'
keyed_groups:
  # masters and agents, under cluster
  - key: tags['{tag_role}'] ~ 's'
    prefix: ""
    separator: ""
    parent_group: cluster
  # agents_private and agents_public, under agents; masters make no group here
  - key: "tags['{tag_pool}'] if tags['{tag_role}'] == 'agent' else ''"
    prefix: agents
    parent_group: agents
hostvar_expressions:
  ansible_host: public_ipv4_addresses | first
  ansible_user: "'{ssh_user}'"
  ansible_become: true
  flotilla_advertise_address: private_ipv4_addresses | first
  flotilla_cluster_name: "'{cluster}'"
"""


def sample_inventory(cluster, group, ssh_user):
    return TEMPLATE.format(
        cluster=cluster,
        group=group,
        ssh_user=ssh_user,
        tag_cluster=TAG_CLUSTER,
        tag_role=TAG_ROLE,
        tag_pool=TAG_POOL,
    )
