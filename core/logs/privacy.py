"""What is never stored: prompt and completion text, and anything that looks like a secret.

Content fields are dropped by name and counted. Secrets are found by one table of patterns,
each with the literal bytes it must contain (its hints): a block of raw lines is searched for
the hints in C, and only lines holding one are searched with the full pattern. Every string
Costdesk stores or shows from a log (labels, file names, rejection reasons) goes through
`redact`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import AnyStr

REDACTED = "[redacted]"

# Keys whose values are prompt or completion text (or vectors): never stored, always reported.
CONTENT_KEYS = frozenset(
    {
        "messages",
        "prompt",
        "prompts",
        "input",
        "inputs",
        "output",
        "outputs",
        "completion",
        "content",
        "text",
        "choices",
        "system",
        "instructions",
        "request_body",
        "response_body",
        "request",
        "body",
        "embedding",
        "embeddings",
        "data",
        "tools",
        "response_text",
        "prompt_text",
        "contents",
        "candidates",
        "inputBodyJson",
        "outputBodyJson",
    }
)

# (what it is, hints: literal bytes every match contains, pattern)
SECRET_KINDS: tuple[tuple[str, tuple[bytes, ...], str], ...] = (
    ("OpenAI or Anthropic key", (b"sk-",), r"\bsk-(?:proj-|ant-|admin-|svcacct-)?[\w\-]{16,}"),
    ("bearer token", (b"earer",), r"\b[Bb]earer\s+[A-Za-z0-9._~+/\-]{12,}=*"),
    ("basic credentials", (b"asic",), r"\b[Bb]asic\s+[A-Za-z0-9+/]{12,}=*"),
    ("AWS access key", (b"AKIA", b"ASIA"), r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "GitHub token",
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    ),
    ("Slack token", (b"xox",), r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    ("Slack webhook", (b"hooks.slack.com",), r"hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"),
    ("Google API key", (b"AIza",), r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("Hugging Face token", (b"hf_",), r"\bhf_[A-Za-z0-9]{30,}"),
    ("JSON Web Token", (b"eyJ",), r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+"),
    ("password in a URL", (b"://",), r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:[^\s@/]+@"),
)
SECRET_PATTERN = re.compile("|".join(f"(?:{pattern})" for _, _, pattern in SECRET_KINDS))
SECRET_HINTS = tuple(hint for _, hints, _ in SECRET_KINDS for hint in hints)
_TEXT_HINTS = tuple(hint.decode() for hint in SECRET_HINTS)


def redact(value: str) -> str:
    """`value` with every secret look-alike replaced by `[redacted]`."""
    return SECRET_PATTERN.sub(REDACTED, value) if _hinted(value) else value


def _hinted(value: str) -> bool:
    return any(hint in value for hint in _TEXT_HINTS)


def _hinted_items(joined: AnyStr, hints: Sequence[AnyStr], starts: list[int]) -> list[int]:
    """Which items of `joined` (items beginning at `starts`) contain one of `hints`."""
    found = set()
    for hint in hints:
        position = joined.find(hint)
        while position != -1:
            found.add(bisect.bisect_right(starts, position) - 1)
            position = joined.find(hint, position + 1)
    return sorted(found)


def _starts(items: Sequence[AnyStr]) -> list[int]:
    starts, offset = [], 0
    for item in items:
        starts.append(offset)
        offset += len(item) + 1
    return starts


def secret_lines(raws: Sequence[bytes]) -> list[int]:
    """Positions of the raw lines that may hold a secret look-alike: those holding one of the
    hints, searched in the whole block at C speed. (The full pattern runs on the parsed values,
    since raw JSON may spell a secret's characters as escapes.)"""
    joined = b"\n".join(raws)
    hints = [hint for hint in SECRET_HINTS if hint in joined]
    return _hinted_items(joined, hints, _starts(raws)) if hints else []


def secret_items(values: Sequence[str]) -> list[int]:
    """Positions of the strings that hold a secret look-alike (same two-step search)."""
    joined = "\x00".join(values)
    hints = [hint for hint in _TEXT_HINTS if hint in joined]
    if not hints:
        return []
    candidates = _hinted_items(joined, hints, _starts(values))
    return [i for i in candidates if SECRET_PATTERN.search(values[i])]


def secret_paths(record: object, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every string in `record` that looks like a secret."""
    if isinstance(record, str):
        if _hinted(record) and SECRET_PATTERN.search(record):
            yield prefix or "value"
    elif isinstance(record, Mapping):
        for key, value in record.items():
            yield from secret_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(record, list):
        for value in record:
            yield from secret_paths(value, f"{prefix}[]")


def content_keys(record: Mapping, wrappers: Iterable[str] = ()) -> list[str]:
    """Content fields present at the top of `record` and inside its `wrappers` objects."""
    found = [k for k in record if k in CONTENT_KEYS and not isinstance(record[k], Mapping)]
    for key in wrappers:
        inner = record.get(key)
        if isinstance(inner, Mapping):
            found += [f"{key}.{k}" for k in inner if k in CONTENT_KEYS and k != "usage"]
    return found


@dataclass
class Scrub:
    """What was removed from records: content fields dropped, secrets redacted (counts)."""

    content: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, int] = field(default_factory=dict)

    def add_content(self, keys: Iterable[str], times: int = 1) -> None:
        """Count content fields that were present and dropped (in `times` records)."""
        for key in keys:
            self.content[key] = self.content.get(key, 0) + times

    def add_secret(self, path: str, times: int = 1) -> None:
        """Count redacted (or dropped) secret look-alikes found at `path`."""
        self.secrets[path] = self.secrets.get(path, 0) + times

    def merge(self, other: Scrub) -> None:
        """Add another tally to this one."""
        for key, n in other.content.items():
            self.add_content([key], n)
        for key, n in other.secrets.items():
            self.add_secret(key, n)

    def as_dict(self) -> dict[str, int]:
        """One mapping field -> count; secrets are keyed `secret:<field>`."""
        out = dict(sorted(self.content.items()))
        out.update({f"secret:{k}": n for k, n in sorted(self.secrets.items())})
        return out
