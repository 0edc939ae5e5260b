"""Bounce qualification (SPEC §5): SMTP status, reply code and diagnostic → reason + category.

Sits in the normalise stage: ingest and the `bounces classify` command call `qualify`.
"""

from livereport.bounces.overrides import parse_rules
from livereport.bounces.qualify import (
    Qualification,
    flatten_diagnostic,
    qualify,
    read_code,
    read_status,
)
from livereport.bounces.rules import (
    DEFAULT_CATEGORY,
    DEFAULT_RULES,
    FALLBACK_REASONS,
    REASON_HELP,
    Category,
    Reason,
    Rule,
)

__all__ = [
    "DEFAULT_CATEGORY",
    "DEFAULT_RULES",
    "FALLBACK_REASONS",
    "REASON_HELP",
    "Category",
    "Qualification",
    "Reason",
    "Rule",
    "flatten_diagnostic",
    "parse_rules",
    "qualify",
    "read_code",
    "read_status",
]
