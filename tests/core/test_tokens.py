"""Offline token counting: tiktoken seeded from the bundled vocabularies, network blocked."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from core import tokens
from core.tokens import (
    TokenizerUnavailable,
    cache_file_name,
    count_prompt_tokens,
    count_tokens,
    encoding_for_model,
)
from integrations.tiktoken_cache import seed_tiktoken_cache


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None) -> Path:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tokens._encoding.cache_clear()
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    return seed_tiktoken_cache(tmp_path / "tiktoken")


def test_hello_world_is_two_tokens_offline(seeded: Path) -> None:
    assert count_tokens("hello world", "gpt-4o") == 2
    assert count_tokens("hello world", "gpt-4") == 2
    assert count_tokens("", "gpt-4o") == 0


def test_seed_writes_files_named_by_url_sha1(seeded: Path) -> None:
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert cache_file_name("o200k_base") == hashlib.sha1(url.encode()).hexdigest()
    path = seeded / cache_file_name("o200k_base")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    assert (seeded / cache_file_name("cl100k_base")).exists()


def test_seed_repairs_a_corrupt_file(seeded: Path) -> None:
    path = seeded / cache_file_name("cl100k_base")
    path.write_bytes(b"broken")
    seed_tiktoken_cache(seeded)
    assert path.stat().st_size > 1_000_000


def test_encodings_differ_between_families(seeded: Path) -> None:
    # Same count, different vocabularies: the token ids tell them apart.
    assert tokens._encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert tokens._encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_prompt_tokens_add_message_framing(seeded: Path) -> None:
    # 2 + 2 message tokens, 3 framing tokens per message, 3 to prime the reply
    assert count_prompt_tokens("hello world", "hello world", "gpt-4o") == 2 + 2 + 3 * 2 + 3


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("openai/o1", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


def test_unseeded_cache_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    tokens._encoding.cache_clear()
    with pytest.raises(TokenizerUnavailable):
        count_tokens("hello world", "gpt-4o")
    tokens._encoding.cache_clear()
