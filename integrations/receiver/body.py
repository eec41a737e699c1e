"""Request bodies of the live receiver: read within the size limit, then decompressed within it.

One limit holds for the body as sent and for what it inflates to, so a small gzip body cannot
grow into a large one in memory. A body over the limit is still read to its end, dropped as
it arrives, up to `DRAIN_FACTOR` times the limit, so the sender sees the 413 answer instead of a
connection cut while it is still writing; past that the connection is closed.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from integrations.settings import setting

LIMIT_SETTING = "COSTDESK_RECEIVER_MAX_BODY_MB"
DEFAULT_LIMIT_MB = "20"  # as the OpenTelemetry Collector's OTLP/HTTP receiver
DRAIN_FACTOR = 4
MIB = 1 << 20
WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ENCODINGS = ("identity", *WINDOW_BITS)


class TooLarge(ValueError):
    """A body (as sent or inflated) over the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than the receiver's limit of {describe(limit)}")


class BadBody(ValueError):
    """A body that cannot be decoded (an unknown encoding, broken compression)."""


def describe(limit: int) -> str:
    """A byte limit as people read it: "20 MiB", "512 KiB", "100 bytes"."""
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit:,} bytes"


def body_limit() -> int:
    """The body limit in bytes, from `COSTDESK_RECEIVER_MAX_BODY_MB` (MiB; default 20)."""
    text = setting(LIMIT_SETTING, DEFAULT_LIMIT_MB) or DEFAULT_LIMIT_MB
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 < megabytes <= 1024:
        raise ValueError(f"{LIMIT_SETTING} must be a number of MiB above 0, at most 1024")
    return max(1, round(megabytes * MIB))


async def read_limited(chunks: AsyncIterator[bytes], limit: int, declared: int | None) -> bytes:
    """The whole body, or TooLarge once it passes `limit` (the rest is read and dropped)."""
    if declared is not None and declared > DRAIN_FACTOR * limit:
        raise TooLarge(limit)
    kept: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size <= limit:
            kept.append(chunk)
        elif size > DRAIN_FACTOR * limit:
            break
    if size > limit:
        raise TooLarge(limit)
    return b"".join(kept)


async def drain(chunks: AsyncIterator[bytes], limit: int) -> None:
    """Read and drop a body that will not be used (up to `limit` bytes)."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return


def encoding_of(header: str | None) -> str:
    """The one content coding a body is sent in; BadBody for one the receiver does not read."""
    coding = (header or "identity").strip().lower() or "identity"
    if coding not in ENCODINGS:
        raise BadBody(f"Content-Encoding {coding!r} is not supported (use gzip, deflate or none)")
    return coding


def inflate(data: bytes, coding: str, limit: int) -> bytes:
    """`data` decompressed (every gzip member), or TooLarge once the output passes `limit`."""
    if coding == "identity":
        return data
    out: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(WINDOW_BITS[coding])
        pending = data
        while not inflater.eof:
            try:
                piece = inflater.decompress(pending, limit + 1 - size)
            except zlib.error as exc:
                raise BadBody(f"the {coding} body cannot be decompressed ({exc})") from None
            size += len(piece)
            if size > limit:
                raise TooLarge(limit)
            out.append(piece)
            if not piece and not inflater.unconsumed_tail:
                break  # the input ended before the stream did
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise BadBody(f"the {coding} body is cut short")
        data = inflater.unused_data if coding == "gzip" else b""
    return b"".join(out)
