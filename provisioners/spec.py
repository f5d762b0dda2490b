"""The cluster spec: one YAML file, overridden by CLI flags, checked whole.

Every problem is reported, each in one sentence, before anything is created.

    name: demo              # lower-case letters, digits and '-'
    provider: local         # local | baremetal | aws | gcp | azure
    masters: 3              # odd, so that a majority survives a loss
    agents: 2               # private agents
    public_agents: 1
    local: {}               # the provider's own section, named after it
"""

import dataclasses
import re

import yaml
from ansible_collections.flotilla.cluster.plugins.module_utils.vocabulary import even_masters_problem

from provisioners.providers import NAMES as PROVIDERS
from provisioners.providers import provider_class

# Cloud resource names are built as <name>-<role>-<n> and must stay within
# every cloud's limits (GCP: 63 characters, starting with a letter).
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
MAX_NODES_PER_ROLE = 99

DEFAULTS = {
    "name": "flotilla",
    "provider": "local",
    "masters": 3,
    "agents": 2,
    "public_agents": 1,
    "allow_even_masters": False,
}


class SpecError(Exception):
    """The spec is not valid; ``problems`` holds one sentence each."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    name: str
    provider: str
    masters: int
    agents: int
    public_agents: int
    allow_even_masters: bool
    options: object

    def to_dict(self):
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data[self.provider] = dataclasses.asdict(data.pop("options"))
        return data


def read_spec_file(path):
    """The mapping in a spec file; a file that is not one is a SpecError."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as err:
        raise SpecError([f"cannot read the spec file {path}: {err.strerror}."]) from None
    except yaml.YAMLError as err:
        raise SpecError([f"{path} is not valid YAML: {err}."]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError([f"{path} must hold a mapping of spec keys, not a {type(data).__name__}."])
    return data


def build_spec(data, overrides=None):
    """Validate ``data`` (with ``overrides`` applied) into a ClusterSpec."""
    merged = {**DEFAULTS, **data, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    problems = []
    provider = merged["provider"]
    known = set(DEFAULTS) | set(PROVIDERS)
    for key in sorted(set(merged) - known):
        problems.append(f"unknown key '{key}' in the spec; known keys are: {', '.join(sorted(known))}.")
    if provider not in PROVIDERS:
        problems.append(f"unknown provider '{provider}'; choose one of: {', '.join(PROVIDERS)}.")
    for key in sorted(set(PROVIDERS) & set(merged) - {provider}):
        problems.append(
            f"the spec has a '{key}' section but its provider is '{provider}'; "
            f"remove the section or set provider: {key}."
        )

    name = merged["name"]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        problems.append(
            f"cluster name {name!r} is not accepted by every cloud: use 2 to 32 lower-case "
            "letters, digits and '-', starting with a letter and not ending with '-'."
        )
    for key, least in (("masters", 1), ("agents", 0), ("public_agents", 0)):
        value = merged[key]
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{key} must be a whole number, not {value!r}.")
        elif not least <= value <= MAX_NODES_PER_ROLE:
            problems.append(f"{key} must be between {least} and {MAX_NODES_PER_ROLE}, not {value}.")
    if not isinstance(merged["allow_even_masters"], bool):
        problems.append("allow_even_masters must be true or false.")
    masters = merged["masters"]
    even = even_masters_problem(masters) if isinstance(masters, int) and not isinstance(masters, bool) else None
    if even and merged["allow_even_masters"] is not True:
        problems.append(
            f"{even}; use an odd number, or pass --allow-even-masters (allow_even_masters: true) if you mean it."
        )

    options = None
    if provider in PROVIDERS:
        options = _provider_options(provider, merged.get(provider), problems)
    if problems:
        raise SpecError(problems)
    return ClusterSpec(
        name=name,
        provider=provider,
        masters=masters,
        agents=merged["agents"],
        public_agents=merged["public_agents"],
        allow_even_masters=merged["allow_even_masters"],
        options=options,
    )


def _provider_options(provider, section, problems):
    options_class = provider_class(provider).Options
    section = {} if section is None else section
    if not isinstance(section, dict):
        problems.append(f"the '{provider}' section must be a mapping of options.")
        return None
    fields = {f.name: f for f in dataclasses.fields(options_class)}
    for key in sorted(set(section) - set(fields)):
        problems.append(
            f"unknown option '{key}' in the '{provider}' section; known options are: "
            f"{', '.join(sorted(fields)) or 'none'}."
        )
    required = [name for name, f in fields.items() if _is_required(f) and name not in section]
    for name in required:
        problems.append(f"the '{provider}' section needs '{name}'.")
    values = {k: v for k, v in section.items() if k in fields}
    if required or set(section) - set(fields):
        return None
    try:
        return options_class(**values)
    except (TypeError, ValueError) as err:
        problems.append(f"the '{provider}' section is not valid: {err}")
        return None


def _is_required(field):
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
