"""A sample inventory for amazon.aws.aws_ec2 that finds the cluster by its tags."""

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
  tag:flotilla-cluster: {cluster}
  tag:managed-by: flotilla
  instance-state-name: running
hostnames:
  - tag:Name
compose:
  ansible_host: public_ip_address | default(private_ip_address, true)
  ansible_user: "'{ssh_user}'"
  ansible_become: true
  flotilla_advertise_address: private_ip_address
  flotilla_cluster_name: "'{cluster}'"
leading_separator: false
keyed_groups:
  # masters and agents, children of cluster
  - key: tags['flotilla-role'] ~ 's'
    parent_group: cluster
  # agents_private and agents_public, children of agents
  - key: "('agents_' ~ tags['flotilla-pool']) if tags['flotilla-role'] == 'agent' else ''"
    parent_group: agents
"""


def aws_ec2_inventory(cluster, region, ssh_user):
    return "aws_ec2.yml", TEMPLATE.format(cluster=cluster, region=region, ssh_user=ssh_user)
