"""``callguard rules migrate FILE``: a schema-1 rule file as schema 2.

Schema-1 files still load as they are; migrating only makes the file ready
for schema 2's ``vocab`` lists and ``patterns``. Every schema-1 group keeps
its ``phrases`` (literal text in both schemas, so matching is unchanged) and
YAML anchors are spelled out, since vocab lists replace them. YAML comments
do not survive a rewrite: the result says so at its top.
"""

from __future__ import annotations

from typing import Any

import yaml

from .load import check_bytes
from .schema import Problem, RuleFileError
from .yamlsafe import load_yaml

__all__ = ["migrate"]

_HEADER = ("# Migrated to schema 2 by `callguard rules migrate` (comments of the original file are not kept).\n"
           "# Groups keep their literal `phrases`; add a `vocab:` block and `patterns:` to generalise them.\n")


def _plain(value: Any) -> Any:
    """The loaded document as plain dicts and lists (what the dumper knows)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def migrate(data: bytes | str, source: str = "<rules>") -> str:
    """The schema-2 text of schema-1 rule-file content. Raises
    :class:`RuleFileError` if the input has errors or is not schema 1."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    ruleset, problems = check_bytes(data, source)
    if ruleset is None:
        raise RuleFileError(problems)
    if ruleset.schema != 1:
        raise RuleFileError([Problem(source, 1, f"the file is already schema {ruleset.schema}")])
    doc, _ = load_yaml(data.decode("utf-8"), source)
    doc = _plain(doc)
    doc["schema"] = 2
    out = _HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)
    migrated, problems = check_bytes(out.encode("utf-8"), source)
    if migrated is None or [r.groups for r in migrated.rules] != [r.groups for r in ruleset.rules]:
        # Never hand back a file that matches differently from the original.
        raise RuleFileError(problems or [Problem(source, 1, "migration would change what the rules match")])
    return out
