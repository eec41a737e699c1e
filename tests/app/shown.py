"""What a Markdown body shows a viewer: the page escapes text from logs and users."""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation


def shown(body: str) -> str:
    """`body` with its backslash escapes resolved, as the browser displays it."""
    return _ESCAPED.sub(r"\1", body)
