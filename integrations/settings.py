"""Settings: an environment variable first, then `.streamlit/secrets.toml`, then a default.

The one place Costdesk reads its configuration, for the dashboard, the command line and the
integrations alike. A missing or unreadable secrets file is normal (a local single-user setup
has none). Nested tables (`[auth]`, `[costdesk.roles]`) are read with `section`.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

SECRETS_FILE = Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml"


@lru_cache(maxsize=4)
def _read(path: str, modified: float) -> dict[str, Any]:
    """The secrets file's content (re-read when the file changes)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def secrets(path: Path | None = None) -> dict[str, Any]:
    """Everything in the secrets file ({} when there is none)."""
    target = path or SECRETS_FILE
    try:
        modified = target.stat().st_mtime
    except OSError:
        return {}
    return _read(str(target), modified)


def setting(name: str, default: str | None = None, *, path: Path | None = None) -> str | None:
    """`name` from the environment, then the secrets file's top level, then `default`."""
    if os.environ.get(name):
        return os.environ[name]
    value = secrets(path).get(name)
    return default if value is None or isinstance(value, dict) else str(value)


def section(name: str, *, path: Path | None = None) -> dict[str, Any]:
    """A table of the secrets file (`section("costdesk")` for `[costdesk.*]`), {} if absent."""
    value = secrets(path).get(name)
    return value if isinstance(value, dict) else {}
