"""What was left out of stored records, in plain words: `completion text dropped from 20 records`.

The keys come from `core.logs.privacy.CONTENT_KEYS` (content dropped by name) and from secret
redaction (`secret:<field>`); each key is named here once, for every page that reports them.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.text import plural
from ui.format import escape_markdown

CONTENT_WORDS = {
    "messages": "prompt messages",
    "prompt": "prompt text",
    "prompts": "prompt text",
    "prompt_text": "prompt text",
    "system": "system prompts",
    "instructions": "system instructions",
    "input": "input text",
    "inputs": "input text",
    "contents": "prompt text",
    "content": "message text",
    "text": "text",
    "output": "output text",
    "outputs": "output text",
    "completion": "completion text",
    "choices": "completion text",
    "candidates": "completion text",
    "response_text": "completion text",
    "request": "request bodies",
    "request_body": "request bodies",
    "inputBodyJson": "request bodies",
    "body": "request or response bodies",
    "response_body": "response bodies",
    "outputBodyJson": "response bodies",
    "embedding": "embedding vectors",
    "embeddings": "embedding vectors",
    "data": "response data (vectors or text)",
    "tools": "tool definitions",
}


def content_word(key: str) -> str:
    """Plain words for a dropped content field (`choices`, `response.output`, ...)."""
    leaf = key.rsplit(".", 1)[-1]
    return CONTENT_WORDS.get(leaf, f"the {leaf} field")


def scrub_lines(scrubbed: Mapping[str, int]) -> list[str]:
    """One sentence per kind of thing removed, escaped for Markdown, most frequent first.

    Content keys that mean the same thing (`prompt`, `prompt_text`) share a sentence, with the
    larger count (a record holding both is one record).
    """
    dropped: dict[str, int] = {}
    secrets: dict[str, int] = {}
    for key, n in scrubbed.items():
        if key.startswith("secret:"):
            field = key.removeprefix("secret:")
            secrets[field] = secrets.get(field, 0) + n
        else:
            word = content_word(key)
            dropped[word] = max(dropped.get(word, 0), n)
    lines = [
        f"{escape_markdown(_first_upper(word))} dropped from {plural(n, 'record')}"
        for word, n in sorted(dropped.items(), key=lambda item: (-item[1], item[0]))
    ]
    lines += [
        f"{_first_upper(plural(n, 'key or token', 'keys or tokens'))} redacted in the "
        f"{escape_markdown(field)} field"
        for field, n in sorted(secrets.items(), key=lambda item: (-item[1], item[0]))
    ]
    return lines


def _first_upper(text: str) -> str:
    """The text with its first letter in capitals (the rest as it is)."""
    return text[:1].upper() + text[1:]
