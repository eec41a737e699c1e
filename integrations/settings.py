"""Settings: an environment variable first, then `.streamlit/secrets.toml`, then a default.

The one place Costdesk reads its configuration, for the dashboard, the command line and the
integrations alike. A missing or unreadable secrets file is normal (a local single-user setup
has none). Nested tables (`[auth]`, `[costdesk.roles]`) are read with `section`; structured
settings (the Bedrock model mapping) have their own reader here.
"""

from __future__ import annotations

import json
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


class SettingError(ValueError):
    """A setting is present but unusable; the message names it and says what it must be."""


BEDROCK_MODELS_ENV = "COSTDESK_BEDROCK_MODELS"


def bedrock_models(*, path: Path | None = None) -> dict[str, str]:
    """Bedrock model ids or ARNs (inference or application profiles) -> the model each stands
    for: `COSTDESK_BEDROCK_MODELS` (a JSON object) from the environment, else the
    `[costdesk.bedrock_models]` table of the secrets file; {} when neither is set."""
    raw = os.environ.get(BEDROCK_MODELS_ENV)
    if raw:
        try:
            found = json.loads(raw)
        except ValueError:
            raise SettingError(f"{BEDROCK_MODELS_ENV} must be a JSON object") from None
        where = BEDROCK_MODELS_ENV
    else:
        found = section("costdesk", path=path).get("bedrock_models", {})
        where = "[costdesk.bedrock_models]"
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in found.items()
    ):
        raise SettingError(f"{where} must map each Bedrock model id or ARN to a model name")
    return {k.strip(): v.strip() for k, v in found.items()}


def format_state(*, path: Path | None = None) -> dict[str, Any]:
    """What the log formats read from the settings (today: the Bedrock model mapping), to pass
    to an ingest as its `state`."""
    from core.logs.formats.bedrock import MODELS_STATE  # the formats load only when asked

    models = bedrock_models(path=path)
    return {MODELS_STATE: models} if models else {}


RETENTION_ENV = "COSTDESK_RETENTION_DAYS"


def retention_days(*, path: Path | None = None) -> int | None:
    """Days of raw request rows to keep (`COSTDESK_RETENTION_DAYS`, else `retention_days` in
    the secrets file's `[costdesk]` table); None keeps them all. The rollups are always kept."""
    raw = os.environ.get(RETENTION_ENV)
    where = RETENTION_ENV
    if not raw:
        raw = section("costdesk", path=path).get("retention_days")
        where = "[costdesk] retention_days"
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if isinstance(raw, bool) or not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingError(f"{where} must be a whole number of days (at least 1), got {raw!r}")
    return int(text)
