"""The runner passes module arguments whole, and finds the collection it runs."""

import sys

import pytest
import yaml

from provisioners import runner
from provisioners.collection import COLLECTION_ROOT
from provisioners.errors import FlotillaError


def test_module_arguments_arrive_whole(tmp_path):
    hosts = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": local}}}))
    text = "a b=c 'd' \"e\" {f}"
    result = runner.run_module(hosts, "localhost", "ansible.builtin.debug", {"msg": text})
    assert result.rc == 0
    assert result.results["localhost"]["msg"] == text


def test_the_collection_is_found_with_its_playbooks_and_roles():
    root = COLLECTION_ROOT
    assert (root / "playbooks" / "site.yml").is_file()
    assert (root / "roles" / "engine" / "tasks" / "main.yml").is_file()


def test_a_failed_loop_is_reported_with_its_item_s_reason(tmp_path):
    hosts = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": local}}}))
    playbook = tmp_path / "loop.yml"
    task = {"ansible.builtin.fail": {"msg": "item {{ item }} is wrong"}, "loop": ["one"]}
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    with pytest.raises(FlotillaError, match="failed on localhost: item one is wrong$"):
        runner.run_playbook(hosts, playbook)
