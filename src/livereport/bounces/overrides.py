"""An org's own bounce rules: validate the rows a user saved into `Rule`s.

The caller puts the result before DEFAULT_RULES, so an org's rows win over the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from livereport.bounces.rules import Category, Rule

FIELDS = ("name", "reason", "category", "status", "code", "pattern", "note")
MAX_PATTERN = 500  # org patterns run on every bounce: keep them small

_STATUS = re.compile(r"[45](?:\.(?:\d{1,3}(?:\.(?:\d{1,3})?)?)?)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CATEGORIES = ", ".join(c.value for c in Category)

# (field, message); field "" for a problem with the row as a whole.
_Problems = list[tuple[str, str]]


def parse_rules(rows: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Validate an org's rule table, in order; raise ValueError naming every bad row and field.

    Each row needs name (unique), reason (free text ≤ 64), category (hard, soft or ignored) and
    at least one condition: status (like 5.1.1, 5.1. or 4.), code (400-599) or pattern (a
    case-insensitive regular expression). Empty or null conditions count as not set.
    """
    rules: list[Rule] = []
    errors: list[str] = []
    names: set[str] = set()
    for index, row in enumerate(rows):
        problems: _Problems = []
        rule = _parse_row(row, problems)
        if rule is not None and rule.name in names:
            problems.append(("name", f"{rule.name!r} is used twice; expected unique names"))
        errors.extend(
            f"rules[{index}]{'.' + field if field else ''}: {message}"
            for field, message in problems
        )
        if rule is not None and not problems:
            names.add(rule.name)
            rules.append(rule)
    if errors:
        raise ValueError("; ".join(errors))
    return tuple(rules)


def _parse_row(row: object, problems: _Problems) -> Rule | None:
    if not isinstance(row, Mapping):
        problems.append(("", "expected an object with name, reason, category and a condition"))
        return None
    for key in row:
        if key not in FIELDS:
            problems.append((str(key), f"unknown field; expected one of {', '.join(FIELDS)}"))
    name = _read_text(row, "name", 64, problems)
    reason = _read_text(row, "reason", 64, problems)
    note = _read_text(row, "note", 256, problems, required=False)
    category = _read_category(row, problems)
    status = _read_status(row, category, problems)
    code = _read_code(row, category, problems)
    pattern = _read_pattern(row, problems)
    if all(_is_blank(row.get(field)) for field in ("status", "code", "pattern")):
        problems.append(("", "no condition; expected at least one of status, code, pattern"))
    if problems or name is None or reason is None or category is None:
        return None
    return Rule(name, reason, category, status, code, pattern, note or "")


def _is_blank(value: object) -> bool:
    return value is None or value == ""


def _read_text(
    row: Mapping[str, Any], field: str, limit: int, problems: _Problems, required: bool = True
) -> str | None:
    value = row.get(field)
    if _is_blank(value) and not required:
        return None
    expected = f"expected a non-empty string of at most {limit} characters"
    if not isinstance(value, str) or not value.strip():
        problems.append((field, f"{'missing' if value is None else repr(value)}; {expected}"))
        return None
    if len(value) > limit or _CONTROL.search(value):
        problems.append((field, f"too long or has control characters; {expected}, no controls"))
        return None
    return value.strip()


def _read_category(row: Mapping[str, Any], problems: _Problems) -> Category | None:
    value = row.get("category")
    if isinstance(value, str):
        try:
            return Category(value.strip().lower())
        except ValueError:
            pass
    got = "missing" if value is None else f"{value!r} is not a category"
    problems.append(("category", f"{got}; expected one of {_CATEGORIES}"))
    return None


def _read_status(
    row: Mapping[str, Any], category: Category | None, problems: _Problems
) -> str | None:
    value = row.get("status")
    if _is_blank(value):
        return None
    if not isinstance(value, str) or not _STATUS.fullmatch(value.strip()):
        expected = "expected an enhanced status code or prefix of class 4 or 5: 5.1.1, 5.1. or 4."
        problems.append(("status", f"{value!r} is not a status; {expected}"))
        return None
    if category is Category.HARD and value.strip().startswith("4"):
        problems.append(
            ("status", "a 4.x.x status is transient, never a hard bounce; expected soft or ignored")
        )
        return None
    return value.strip()


def _read_code(
    row: Mapping[str, Any], category: Category | None, problems: _Problems
) -> int | None:
    value = row.get("code")
    if _is_blank(value):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 400 <= value <= 599:
        problems.append(("code", f"{value!r} is not a reply code; expected an integer 400-599"))
        return None
    if category is Category.HARD and value < 500:
        problems.append(
            ("code", "a 4xx reply is transient, never a hard bounce; expected soft or ignored")
        )
        return None
    return value


def _read_pattern(row: Mapping[str, Any], problems: _Problems) -> re.Pattern[str] | None:
    value = row.get("pattern")
    if _is_blank(value):
        return None
    if not isinstance(value, str) or len(value) > MAX_PATTERN:
        problems.append(
            ("pattern", f"expected a regular expression of at most {MAX_PATTERN} chars")
        )
        return None
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        problems.append(
            ("pattern", f"not a valid regular expression ({exc}); expected Python re syntax")
        )
        return None
