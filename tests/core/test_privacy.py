"""core.logs.privacy: the hint pre-check never lets a secret through the one redaction."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.logs.privacy import (
    REDACTED,
    SECRET_KINDS,
    SECRET_PATTERN,
    redact,
    secret_items,
    secret_lines,
)

FILLER = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@pytest.mark.parametrize(
    ("kind", "hints", "pattern"), SECRET_KINDS, ids=[k for k, _, _ in SECRET_KINDS]
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_secret_is_found_by_the_fast_path_and_redacted(
    kind: str, hints: tuple[bytes, ...], pattern: str, data: st.DataObject
) -> None:
    secret = data.draw(st.from_regex(re.compile(pattern), fullmatch=True))
    before, after = data.draw(FILLER), data.draw(FILLER)
    text = f"{before} {secret} {after}"
    assert any(hint.decode() in secret for hint in hints)  # each match carries its hint
    assert secret_items(["clean", text]) == [1]
    assert secret_lines([b"clean", text.encode()]) == [1]
    cleaned = redact(text)
    assert REDACTED in cleaned and not SECRET_PATTERN.search(cleaned.replace(REDACTED, " "))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(FILLER, max_size=8))
def test_the_fast_path_agrees_with_the_pattern_on_any_text(values: list[str]) -> None:
    expected = [i for i, v in enumerate(values) if SECRET_PATTERN.search(v)]
    assert secret_items(values) == expected
