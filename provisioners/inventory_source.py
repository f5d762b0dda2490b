"""A hand-written Ansible inventory, YAML or INI, held with the line of everything in it.

Ansible's own parsers drop the lines and stop at the first error; this reader
keeps both, so that a check can name every problem with the line to fix. The
formats are Ansible's: YAML groups of hosts/children/vars, and INI sections
[group], [group:children], [group:vars] with key=value host variables. Only
what the file says is kept; nothing is resolved or merged. It serves
`flotilla check-inventory` only: everything that uses an inventory reads it
with Ansible's own parser.

    source = read_inventory("hosts.ini")
    source.groups["masters"].hosts[0].names     # ['node1']
"""

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The suffixes Ansible's YAML inventory plugin takes; a file without one is
# YAML when it reads as a mapping, as Ansible tries YAML before INI.
YAML_SUFFIXES = (".yml", ".yaml", ".json")
NULL_TAG = "tag:yaml.org,2002:null"
INI_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
INI_CHILD = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass(frozen=True)
class Setting:
    """A variable's value, and the line that sets it."""

    value: object
    line: int


@dataclass
class HostEntry:
    """One listing of a host pattern in a group; ``node[1:3]`` stands for three hosts."""

    pattern: str
    names: list
    line: int
    vars: dict = field(default_factory=dict)  # name -> Setting


@dataclass
class Group:
    name: str
    line: int
    hosts: list = field(default_factory=list)  # HostEntry, in file order
    children: dict = field(default_factory=dict)  # child name -> line
    vars: dict = field(default_factory=dict)  # name -> Setting


@dataclass
class InventorySource:
    path: str
    groups: dict = field(default_factory=dict)  # name -> Group, in order of first mention
    problems: list = field(default_factory=list)  # what could not be read

    def problem(self, line, message):
        self.problems.append(Problem(line, message))

    def group(self, name, line):
        return self.groups.setdefault(name, Group(name, line))

    def entries(self):
        return [entry for group in self.groups.values() for entry in group.hosts]


def read_inventory(path):
    """Read ``path`` as Ansible would; problems of syntax land in ``problems``."""
    source = InventorySource(str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        source.problem(1, f"cannot read the inventory: {getattr(err, 'strerror', None) or err}.")
        return source
    suffix = Path(path).suffix
    if suffix in YAML_SUFFIXES or (not suffix and _reads_as_mapping(text)):
        _YamlReader(text, source).read()
    else:
        _read_ini(text, source)
    return source


def _reads_as_mapping(text):
    try:
        return isinstance(yaml.compose(text, Loader=yaml.SafeLoader), yaml.MappingNode)
    except yaml.YAMLError:
        return False


@dataclass(frozen=True)
class Tagged:
    """A value under a tag of Ansible's (``!vault``, ``!unsafe``): read, never resolved."""

    tag: str
    value: object


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return Tagged(node.tag, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(node.tag, loader.construct_sequence(node, deep=True))
    return Tagged(node.tag, loader.construct_mapping(node, deep=True))


_Loader.add_multi_constructor("!", _construct_tagged)


class _YamlReader:
    """Walks the composed node tree, which keeps every node's line, and
    constructs only the variables' values."""

    def __init__(self, text, source):
        self.text = text
        self.source = source

    def read(self):
        self.loader = _Loader(self.text)
        try:
            root = self.loader.get_single_node()
            if root is None or _is_null(root):
                return
            if not isinstance(root, yaml.MappingNode):
                self._problem(root, "an inventory in YAML is a mapping of group names, such as 'cluster:'.")
                return
            for name, key, value in self._pairs(root):
                self._group(name, key, value)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            line = mark.line + 1 if mark else 1
            self.source.problem(line, f"not valid YAML: {getattr(err, 'problem', None) or err}.")
        finally:
            self.loader.dispose()

    def _problem(self, node, message):
        self.source.problem(node.start_mark.line + 1, message)

    def _pairs(self, node):
        # Merge keys (<<: *defaults) are resolved here, as a YAML load would.
        self.loader.flatten_mapping(node)
        return [(str(self.loader.construct_object(key)), key, value) for key, value in node.value]

    def _group(self, name, key, node):
        group = self.source.group(name, key.start_mark.line + 1)
        if _is_null(node):
            return
        if not isinstance(node, yaml.MappingNode):
            self._problem(node, f"group '{name}' must be a mapping of hosts, children and vars.")
            return
        for section, section_key, value in self._pairs(node):
            if section == "hosts":
                self._hosts(group, value)
            elif section == "children":
                for child, child_key, child_node in self._section_pairs(group, section, value):
                    group.children[child] = child_key.start_mark.line + 1
                    self._group(child, child_key, child_node)
            elif section == "vars":
                group.vars.update(self._settings(value, f"the vars of group '{name}'"))
            else:
                self._problem(section_key, f"group '{name}' has a key '{section}'; a group has hosts, children, vars.")

    def _section_pairs(self, group, section, node):
        if _is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            self._problem(node, f"the {section} of group '{group.name}' must be a mapping of names.")
            return []
        return self._pairs(node)

    def _hosts(self, group, node):
        for pattern, key, value in self._section_pairs(group, "hosts", node):
            line = key.start_mark.line + 1
            names = _host_names(pattern, line, self.source)
            group.hosts.append(HostEntry(pattern, names, line, self._settings(value, f"host '{pattern}'")))

    def _settings(self, node, owner):
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self._problem(node, f"{owner} must be a mapping of variables.")
            return {}
        return {
            name: Setting(self.loader.construct_object(value, deep=True), key.start_mark.line + 1)
            for name, key, value in self._pairs(node)
        }


def _is_null(node):
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG


def _read_ini(text, source):
    group, kind = None, "hosts"
    declared = {"all", "ungrouped"}
    mentioned = {}  # group name -> (line, the section that mentions it), for groups never declared
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            group, kind = _ini_section(line, number, source, declared, mentioned)
        elif kind == "hosts":
            # Ansible reads the hosts before the first section into 'ungrouped'.
            _ini_host(line, number, group or source.group("ungrouped", number), source)
        elif kind == "children":
            match = INI_CHILD.match(line)
            if match:
                group.children[match[1]] = number
                source.group(match[1], number)
                mentioned.setdefault(match[1], (number, f"[{group.name}:children]"))
            else:
                source.problem(number, f"'{line}' is not a group name, as [{group.name}:children] lists.")
        elif kind == "vars":
            name, sign, value = line.partition("=")
            if sign and name.strip():
                group.vars[name.strip()] = Setting(_ini_value(value.strip()), number)
            else:
                source.problem(number, f"'{line}' is not name=value, as [{group.name}:vars] holds.")
    for name, (line, section) in mentioned.items():
        if name not in declared:
            source.problem(line, f"{section} names group '{name}', which no [{name}] section declares.")


def _ini_section(line, number, source, declared, mentioned):
    """The group and kind of lines a section header opens; kind None skips a bad section's lines."""
    match = INI_SECTION.match(line)
    if not match:
        source.problem(number, f"'{line}' is not a section header such as [masters] or [cluster:vars].")
        return None, None
    name, kind = match[1], match[2] or "hosts"
    if kind not in ("hosts", "children", "vars"):
        source.problem(number, f"section [{name}:{kind}] has no kind Ansible knows: use :children or :vars.")
        return None, None
    if kind == "vars":
        mentioned.setdefault(name, (number, f"[{name}:vars]"))
    else:
        declared.add(name)
    return source.group(name, number), kind


def _ini_host(line, number, group, source):
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as err:
        source.problem(number, f"cannot split the host line: {err}.")
        return
    entry = HostEntry(tokens[0], _host_names(tokens[0], number, source), number)
    for token in tokens[1:]:
        name, sign, value = token.partition("=")
        if not sign:
            source.problem(number, f"'{token}' after host '{tokens[0]}' is not name=value.")
            continue
        entry.vars[name] = Setting(_ini_value(value), number)
    group.hosts.append(entry)


def _ini_value(text):
    """An INI value as Ansible reads it: a Python literal where it is one, else the text."""
    try:
        return _plain(ast.literal_eval(text))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _plain(value):
    # Ansible makes tuples and sets lists; other literals (bytes, complex) stay text.
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(type(value).__name__)


def _host_names(pattern, line, source):
    """The hosts a pattern stands for: ``node[01:03]:2222`` is node01..node03 on port 2222."""
    # Ansible's own helpers, so that ranges and ports mean exactly what they
    # mean to ansible-playbook; imported here, as loading them takes a while.
    from ansible.errors import AnsibleError
    from ansible.parsing.utils.addresses import parse_address
    from ansible.plugins.inventory import detect_range, expand_hostname_range

    try:
        host, _port = parse_address(pattern, allow_ranges=True)
    except AnsibleError:
        host = pattern
    try:
        return expand_hostname_range(host) if detect_range(host) else [host]
    except AnsibleError as err:
        source.problem(line, f"host pattern '{pattern}' is not valid: {err}.")
        return []
