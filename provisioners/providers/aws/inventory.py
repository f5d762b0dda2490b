"""A sample inventory for amazon.aws.aws_ec2 that finds the cluster by its tags."""

from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY

from provisioners.providers.sample_inventory import keyed_groups

TEMPLATE = """\
# Written by `flotilla provision` for cluster {cluster}: the same groups as
# hosts.yml, found live through the instances' tags by amazon.aws.aws_ec2.
#   ansible-inventory -i aws_ec2.yml --graph
# SSH settings (key, known hosts) are in hosts.yml; pass them with -e or
# ansible.cfg when using this file instead.
plugin: amazon.aws.aws_ec2
regions:
  - {region}
filters:
  tag:{tag_cluster}: {cluster}
  tag:{tag_managed_by}: {managed_by}
  instance-state-name: running
hostnames:
  - tag:Name
compose:
  ansible_host: public_ip_address | default(private_ip_address, true)
  ansible_user: "'{ssh_user}'"
  # A string: ansible-core 2.19 takes only expressions here, and drops a YAML true.
  ansible_become: "true"
  flotilla_advertise_address: private_ip_address
  common_set_hostname: true
leading_separator: false
{keyed_groups}"""


def aws_ec2_inventory(cluster, region, ssh_user):
    text = TEMPLATE.format(
        cluster=cluster,
        region=region,
        ssh_user=ssh_user,
        tag_cluster=TAG_CLUSTER,
        tag_managed_by=TAG_MANAGED_BY,
        managed_by=MANAGED_BY,
        keyed_groups=keyed_groups("tags"),
    )
    return "aws_ec2.yml", text
