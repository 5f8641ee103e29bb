"""Safe YAML for files that admins (or anyone who can write the file) edit.

YAML 1.1 *safe* loading only (no tags that build objects), duplicate keys
refused, and every mapping and list remembers its line so that problems come
back as ``file:line``. Hostile input is refused cheaply, before it can cost
time or memory:

* nesting depth and the number of aliases are counted on the token stream;
* a number is at most :data:`MAX_NUMBER_CHARS` characters long: Python
  refuses to read an integer of more than 4,300 digits (a crash, not a
  message), and YAML 1.1's base-60 integers (``1:2:3``) cost quadratic time
  (a 600 kB one took 27 s);
* the document's **expanded size** is counted on the composed node graph
  before anything is built. Aliases make a document a graph: 70 aliases, each
  a list repeating the previous one ten times, fit in 500 bytes and stand for
  10^70 values. Building that graph is cheap (an alias is one shared object),
  but anything that walks it as a tree (validation, ``repr`` in an error
  message) never ends. The size of each distinct node is computed once, so
  the count costs one pass over the nodes written in the file.
"""

from __future__ import annotations

from typing import Any

import yaml

from .schema import Problem

try:  # libyaml is bundled with PyYAML wheels; it makes big files fast
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python fallback
    _BaseLoader = yaml.SafeLoader

__all__ = ["LineDict", "LineList", "load_yaml", "line_of", "show", "MAX_DEPTH", "MAX_ALIASES", "MAX_NODES",
           "MAX_NUMBER_CHARS"]

MAX_DEPTH = 32
MAX_ALIASES = 200
MAX_NODES = 2_000_000  # values in the document with every alias spelled out
MAX_NUMBER_CHARS = 100  # a rule file's numbers are weights, thresholds and gaps


class LineDict(dict):
    """A mapping that remembers where it and each of its keys stood."""

    line = 0
    key_lines: dict


class LineList(list):
    """A list that remembers where it and each of its items stood."""

    line = 0
    item_lines: list


def line_of(obj: Any, key: Any = None, default: int = 1) -> int:
    """The line of ``obj`` (or of its ``key``), ``default`` when unknown."""
    if key is not None and isinstance(obj, LineDict):
        return obj.key_lines.get(key, obj.line)
    return getattr(obj, "line", default) or default


def show(value: Any, limit: int = 60) -> str:
    """A short description of a value from the file, for messages. Never the
    ``repr`` of a container: its expansion can be astronomically large."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return repr(text)
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "nothing"
    if isinstance(value, (int, float)):
        return repr(value)[:limit]
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


class _Loader(_BaseLoader):
    """Safe loader: plain data only, duplicate keys refused, lines kept."""


def _expect_node(node: yaml.Node, kind: type) -> None:
    """An explicit ``!!map`` or ``!!seq`` tag on the wrong kind of node (``!!map
    text``) reaches these constructors: a clear error, not a crash."""
    if not isinstance(node, kind):
        raise yaml.constructor.ConstructorError(None, None, f"expected a {kind.id} node, but found {node.id}",
                                                node.start_mark)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    _expect_node(node, yaml.MappingNode)
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {show(key)}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    _expect_node(node, yaml.SequenceNode)
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _number_constructor(construct):
    """``construct`` (YAML's int or float) for numbers of at most MAX_NUMBER_CHARS characters."""

    def construct_number(loader: _Loader, node: yaml.ScalarNode):
        if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_NUMBER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number {len(node.value):,} characters long; at most {MAX_NUMBER_CHARS}",
                node.start_mark)
        return construct(loader, node)

    return construct_number


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:int", _number_constructor(_BaseLoader.construct_yaml_int))
_Loader.add_constructor("tag:yaml.org,2002:float", _number_constructor(_BaseLoader.construct_yaml_float))

_OPENERS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
            yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
_OPEN, _CLOSE, _ALIAS = range(3)
_TOKEN_KIND = {**{t: _OPEN for t in _OPENERS}, **{t: _CLOSE for t in _CLOSERS}, yaml.AliasToken: _ALIAS}


def _precheck(text: str, source: str) -> list[Problem]:
    """Count nesting and aliases on the tokens (iteratively, no recursion)
    before anything is composed."""
    depth = aliases = 0
    kinds = _TOKEN_KIND
    loader = _Loader(text)
    try:
        get_token = loader.get_token
        while True:
            token = get_token()
            if token is None:
                return []
            kind = kinds.get(type(token))
            if kind == _OPEN:
                depth += 1
                if depth > MAX_DEPTH:
                    return [Problem(source, token.start_mark.line + 1,
                                    f"nesting deeper than {MAX_DEPTH} levels; a rule file never needs that")]
            elif kind == _CLOSE:
                depth -= 1
            elif kind == _ALIAS:
                aliases += 1
                if aliases > MAX_ALIASES:
                    return [Problem(source, token.start_mark.line + 1,
                                    f"more than {MAX_ALIASES} YAML aliases; use a vocab list or write the values out")]
    except yaml.YAMLError as exc:
        return [_yaml_problem(exc, source)]
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """How many values ``root`` stands for with every alias spelled out.
    Each distinct node is sized once (children before parents, no recursion)."""
    size: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        if ready:
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


def _yaml_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    what = getattr(exc, "problem", None) or str(exc)
    if "could not determine a constructor" in str(exc):
        what = "YAML tags that build objects are not allowed in a rule file (" + str(getattr(exc, "problem", "")) + ")"
    elif getattr(exc, "context", None) and getattr(exc, "problem", None):
        what = f"{exc.context}: {exc.problem}"
    return Problem(source, line, f"invalid YAML: {what}")


def load_yaml(text: str, source: str) -> tuple[Any, list[Problem]]:
    """The document in ``text`` (LineDict/LineList inside), or the problems
    that refuse it. An empty document is None."""
    problems = _precheck(text, source)
    if problems:
        return None, problems
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        size = expanded_size(node)
        if size > MAX_NODES:
            return None, [Problem(source, node.start_mark.line + 1,
                                  f"the document stands for more than {MAX_NODES:,} values once its aliases are "
                                  f"spelled out; write the values out or use a vocab list")]
        return loader.construct_document(node), []
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, source)]
    except RecursionError:
        return None, [Problem(source, 1, "nesting too deep")]
    finally:
        loader.dispose()
