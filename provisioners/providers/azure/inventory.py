"""A sample inventory for the azure.azcollection.azure_rm plugin (2.1.0 or later:
its public addresses are ``public_ipv4_address``, a list).

It finds the same machines as the static inventory, by the same tags, and
puts them in the same groups; useful where machines come and go outside
`flotilla` and Ansible should see the cloud's current truth.
"""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import TAG_CLUSTER

from provisioners.providers.sample_inventory import keyed_groups

TEMPLATE = """\
# Sample inventory for the azure.azcollection.azure_rm plugin, written by
# `flotilla provision` for cluster {cluster}. Use it instead of hosts.yml,
# from this directory (`flotilla inventory --path` names it), with
#   ansible-playbook -i azure_rm.yml --private-key ssh/id_ed25519 site.yml
# The plugin signs in as the SDKs do (AZURE_* variables, or `az login`), and
# needs the Python packages in the collection's requirements.txt. Each
# expression below is a string, as ansible-core 2.19 requires.
plugin: azure.azcollection.azure_rm
auth_source: auto
include_vm_resource_groups:
  - {group}
plain_host_names: true
exclude_host_filters:
  - tags['{tag_cluster}'] | default('') != '{cluster}'
{keyed_groups}hostvar_expressions:
  ansible_host: public_ipv4_address | first
  ansible_user: "'{ssh_user}'"
  ansible_become: "true"
  flotilla_advertise_address: private_ipv4_addresses | first
  common_set_hostname: "true"
"""


def sample_inventory(cluster, group, ssh_user):
    return TEMPLATE.format(
        cluster=cluster,
        group=group,
        ssh_user=ssh_user,
        tag_cluster=TAG_CLUSTER,
        keyed_groups=keyed_groups("tags"),
    )
