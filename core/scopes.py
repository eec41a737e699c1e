"""What a budget or alert rule watches: its scope, parsed and checked once for every caller.

A scope is all traffic, or the rows of one project, model, feature, provider, user, API key
label, team, environment or tag. A model scope matches the canonical model id
(`core.identity`), so `model:gpt-4o` and `model:gpt-4o-2024-08-06` are one scope.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from core.identity import canonical
from core.pricing import PriceBook

SCOPE_KINDS = (
    "project", "model", "tag", "feature", "provider", "user", "key", "team", "env", "environment",
)  # fmt: skip
# The stored column (request_log, and daily_rollup but for `user`) each scope kind matches.
# A tag scope (`tag:support`, `tag:team=search`) matches rows whose tag set holds that tag.
SCOPE_COLUMNS = {
    "project": "project",
    "model": "model_id",
    "tag": "tags",
    "feature": "feature",
    "provider": "provider",
    "user": "user",
    "key": "key_label",
    "team": "team",
    "env": "environment",
    "environment": "environment",
}
SCOPE_HELP = (
    "all, project:NAME, model:NAME, feature:NAME, provider:NAME, user:NAME, key:LABEL, "
    "team:NAME, env:NAME, tag:TAG or tag:KEY=VALUE"
)
# Line breaks of any kind: a name or scope is shown on one line, in messages and mail headers.
LINE_BREAK_CATEGORIES = ("Cc", "Zl", "Zp")


class ScopeError(ValueError):
    """A scope that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Scope:
    """What a budget or rule watches: all traffic, or the rows whose column holds `value`."""

    kind: str = "all"
    value: str = ""

    def __str__(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{self.value}"

    @property
    def column(self) -> str | None:
        """The stored column this scope matches (None for all traffic)."""
        return SCOPE_COLUMNS.get(self.kind)


def has_control_characters(text: str) -> bool:
    """True when `text` holds a control character or a line separator (newline, tab, ...)."""
    return any(unicodedata.category(c) in LINE_BREAK_CATEGORIES for c in text)


def parse_scope(text: str | None) -> Scope:
    """'all' or KIND:VALUE for a kind of SCOPE_KINDS (`env` is `environment`); else ScopeError."""
    text = (text or "all").strip()
    if text in ("", "all"):
        return Scope()
    if has_control_characters(text):
        raise ScopeError("A scope cannot contain control characters such as newlines or tabs.")
    kind, sep, value = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in SCOPE_KINDS or not value.strip():
        raise ScopeError(f"Scope {text!r} is not one of {SCOPE_HELP}.")
    value = value.strip()
    if kind == "tag":
        if "," in value:
            raise ScopeError("A tag scope names one tag (no commas).")
        key, eq, rest = value.partition("=")
        value = f"{key.strip()}={rest.strip()}" if eq else value
    return Scope("environment" if kind == "env" else kind, value)


def canonical_scope(scope: Scope, book: PriceBook) -> Scope:
    """The scope with its model named by the canonical id (a dated snapshot means its model)."""
    if scope.kind != "model":
        return scope
    return Scope("model", canonical(book, scope.value))
