"""The README's least IAM policy for AWS names every EC2 action the provider
calls, read from its code, and nothing else but what tagging at creation needs."""

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "provisioners" / "providers" / "aws"
# Tags given at creation (TagSpecifications) are authorised as ec2:CreateTags.
TAGGING = {"ec2:CreateTags"}
# A paginator or waiter names the operation it repeats in a string.
REPEATERS = {"get_paginator", "get_waiter"}
WAITED = "DescribeInstances"  # what the instance_* waiters call


def actions_in_code():
    """Every ``ec2.<method>`` the provider names (called, or handed to a retry)."""
    actions = set()
    for source in PROVIDER.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Attribute) and _is_ec2(node.value) and node.attr not in REPEATERS:
                actions.add(f"ec2:{_camel(node.attr)}")
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_paginator":
                actions.add(f"ec2:{_camel(node.args[0].value)}")
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_waiter":
                actions.add(f"ec2:{WAITED}")
    return actions


def _is_ec2(node):
    return (isinstance(node, ast.Name) and node.id == "ec2") or (isinstance(node, ast.Attribute) and node.attr == "ec2")


def _camel(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def readme_policy():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### AWS permissions", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    (statement,) = json.loads(block)["Statement"]
    return set(statement["Action"])


def test_the_readme_policy_is_what_the_code_calls():
    called = actions_in_code()
    assert "ec2:RunInstances" in called and "ec2:DescribeInstances" in called
    assert readme_policy() == called | TAGGING
