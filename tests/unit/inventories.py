"""Hand-written inventories the bare metal tests share."""

import textwrap

GOOD_YAML = """\
cluster:
  children:
    masters:
      hosts:
        master-1: {ansible_host: 10.0.0.11}
        master-2: {ansible_host: 10.0.0.12}
        master-3: {ansible_host: 10.0.0.13}
    agents:
      children:
        agents_private:
          hosts:
            agent-1.example.com:
        agents_public:
          hosts:
            10.0.0.31:
              flotilla_advertise_address: 192.168.0.31
  vars:
    ansible_user: admin
    agent_labels: {rack: r1}
    master_runs_workloads: true
"""

GOOD_INI = """\
# Three masters by range, on a port of their own.
[masters]
master-[1:3].example.com:2222

[agents_private]
agent-1.example.com agent_labels="{'rack': 'r1'}"

[agents_public]

[agents:children]
agents_private
agents_public

[cluster:children]
masters
agents

[cluster:vars]
ansible_user=admin
engine_source=upstream
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path
