"""An org's own bounce rules: validate the rows a user saved into `Rule`s.

The caller puts the result before DEFAULT_RULES, so an org's rows win over the defaults.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from livereport.bounces.rules import Category, Rule

FIELDS = ("name", "reason", "category", "status", "code", "pattern", "note")
MAX_PATTERN = 500  # org patterns run on every bounce: keep them small
MAX_RULES = 200
#: A pattern must search each probe text of up to 1000 characters (the longest diagnostic
#: an event keeps) within this many seconds, or it is refused as too slow.
PROBE_BUDGET_S = 0.25
#: How many ways the variable repetitions of a pattern may split a text between them, at
#: most: the product of their ranges, an unbounded one counting as 1000 (the longest
#: diagnostic). `.*` alone is 1000; `.{0,100}.{0,100}` (10201) is refused.
MAX_SPLITS = 5000
_PROBE_LENGTHS = (64, 128, 256, 512, 1000)
_PROBE_UNITS = ("a", " ", "a ", "5", "a.", "aA0 .-:;@<>")
_MAX_BOUNDED = 100  # largest {m,n} upper bound; larger is treated as unbounded
# The standard library's regular expression parser, to inspect a pattern's structure.
_parser: Any = importlib.import_module("re._parser")
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})

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
    rows = list(rows)
    if len(rows) > MAX_RULES:
        raise ValueError(f"rules: {len(rows)} rows; expected at most {MAX_RULES}")
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
        compiled = re.compile(value, re.IGNORECASE)
    except re.error as exc:
        problems.append(
            ("pattern", f"not a valid regular expression ({exc}); expected Python re syntax")
        )
        return None
    risk = pattern_risk(value)
    if risk is not None:
        problems.append(("pattern", risk))
        return None
    return compiled


def pattern_risk(pattern: str) -> str | None:
    """Why a pattern could take very long on some diagnostic text (catastrophic backtracking),
    or None when it is safe to run on every bounce.

    Refused: backreferences; a repetition inside a repetition; alternation inside a
    repetition; more than one unbounded repetition (`*`, `+`, `{n,}` or a bound over 100);
    variable repetitions whose ranges multiply past MAX_SPLITS; and any pattern that needs more than PROBE_BUDGET_S to search a probe text of up to 1000
    characters (runs of letters, spaces, digits and punctuation).
    """
    tree = _parser.parse(pattern, re.IGNORECASE)
    problem = _structure(list(tree), inside=False)
    if problem is None and _unbounded(list(tree)) > 1:
        problem = "more than one unbounded repetition (*, +, {n,})"
    if problem is None and _splits(list(tree)) > MAX_SPLITS:
        problem = f"repetitions with over {MAX_SPLITS} ways to split a text between them"
    if problem is not None:
        return (
            f"{problem} can make matching take very long; expected a simpler pattern "
            f"(at most one *, + or {{n,}}, bounds up to {_MAX_BOUNDED}, no nesting)"
        )
    compiled = re.compile(pattern, re.IGNORECASE)
    for length in _PROBE_LENGTHS:
        for unit in _PROBE_UNITS:
            probe = (unit * (length // len(unit) + 1))[:length]
            started = time.perf_counter()
            compiled.search(probe)
            if time.perf_counter() - started > PROBE_BUDGET_S:
                return (
                    f"takes over {PROBE_BUDGET_S * 1000:.0f} ms on a {length}-character text; "
                    "expected a pattern that does less backtracking"
                )
    return None


def _is_repeat(op: Any) -> bool:
    return str(op) in _REPEATS


def _structure(items: list[Any], inside: bool) -> str | None:
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "a backreference"
        if _is_repeat(op):
            low, high, sub = arg
            varies = high != low
            if inside and varies:
                return "a repetition inside a repetition"
            if varies and high > 1 and any(str(o) == "BRANCH" for o, _ in _walk(list(sub))):
                return "alternation (|) inside a repetition"
            found = _structure(list(sub), inside or high > 1)
            if found is not None:
                return found
        elif name == "SUBPATTERN":
            found = _structure(list(arg[-1]), inside)
            if found is not None:
                return found
        elif name == "BRANCH":
            for branch in arg[1]:
                found = _structure(list(branch), inside)
                if found is not None:
                    return found
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            sub = arg[-1] if isinstance(arg, tuple) else arg
            found = _structure(list(sub), inside)
            if found is not None:
                return found
    return None


def _walk(items: list[Any]) -> list[tuple[Any, Any]]:
    """Every (op, arg) of a parsed pattern, nested ones included."""
    found: list[tuple[Any, Any]] = []
    for op, arg in items:
        found.append((op, arg))
        name = str(op)
        if _is_repeat(op):
            found += _walk(list(arg[2]))
        elif name == "SUBPATTERN":
            found += _walk(list(arg[-1]))
        elif name == "BRANCH":
            for branch in arg[1]:
                found += _walk(list(branch))
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            found += _walk(list(arg[-1] if isinstance(arg, tuple) else arg))
    return found


def _splits(items: list[Any]) -> int:
    total = 1
    for op, arg in _walk(items):
        if _is_repeat(op) and arg[1] != arg[0]:
            total *= 1000 if arg[1] - arg[0] > _MAX_BOUNDED else arg[1] - arg[0] + 1
    return total


def _unbounded(items: list[Any]) -> int:
    return sum(1 for op, arg in _walk(items) if _is_repeat(op) and arg[1] - arg[0] > _MAX_BOUNDED)
