"""Every role's argument spec and defaults/main.yml describe the same variables."""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


def load(path):
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir()))
def test_spec_and_defaults_agree(role):
    defaults = load(ROLES / role / "defaults" / "main.yml")
    spec = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    documented = {name for name in spec if name.startswith(f"{role}_")}
    assert documented == set(defaults), "argument_specs.yml and defaults/main.yml name different variables"
    for name, value in defaults.items():
        assert name.startswith(f"{role}_"), f"{name} is not prefixed with the role's name"
        if isinstance(value, str) and "{{" in value:
            continue  # computed at run time; the spec documents it without a default
        assert spec[name].get("default") == value, f"{name}: the spec's default differs from defaults/main.yml"


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir()))
def test_every_role_has_a_readme(role):
    assert (ROLES / role / "README.md").is_file()
