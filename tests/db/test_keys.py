"""Ingest keys on a real SQLite file and a real PostgreSQL: made, found, used, revoked."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from db.keys import KeyProblem, authenticate, create_key, get_key, mark_used, revoke_key
from tests.actors import ADMIN


def test_only_the_hash_is_kept_and_the_key_finds_itself(engine: Engine) -> None:
    made, key = create_key(engine, name="web", project="  shop\t", actor=ADMIN)
    assert made.project == "shop"  # the project label rule: control characters and spaces go
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM ingest_key")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in stored
    assert authenticate(engine, key) == made
    assert authenticate(engine, key.upper()) is None and authenticate(engine, "") is None


def test_last_use_is_written_at_most_once_a_minute(engine: Engine) -> None:
    made, key = create_key(engine, name="web", actor=ADMIN)
    first = made.created_at + timedelta(seconds=5)
    mark_used(engine, key=authenticate(engine, key), now=first)
    mark_used(engine, key=authenticate(engine, key), now=first + timedelta(seconds=59))
    assert get_key(engine, "web").last_used_at == first
    later = first + timedelta(seconds=61)
    mark_used(engine, key=authenticate(engine, key), now=later)
    assert get_key(engine, "web").last_used_at == later


def test_a_revoked_key_is_refused_and_its_name_stays_taken(engine: Engine) -> None:
    _, key = create_key(engine, name="web", actor=ADMIN)
    revoked = revoke_key(engine, name="web", actor=ADMIN)
    assert revoked.revoked_at is not None and authenticate(engine, key) is None
    assert revoke_key(engine, name="web", actor=ADMIN).revoked_at == revoked.revoked_at
    with pytest.raises(KeyProblem, match="exists already"):
        create_key(engine, name="web", actor=ADMIN)
    with pytest.raises(KeyProblem, match="no key named 'nope'"):
        revoke_key(engine, name="nope", actor=ADMIN)


@pytest.mark.parametrize("name", ["", " ", "two words", "-dash", "a" * 65, "naïve", "x\ny"])
def test_key_names_are_short_plain_words(sqlite_url: str, name: str) -> None:
    from db.engine import make_engine

    with pytest.raises(KeyProblem, match="key name"):
        create_key(make_engine(sqlite_url), name=name, actor=ADMIN)


def test_a_project_follows_the_label_rule(sqlite_url: str) -> None:
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    with pytest.raises(KeyProblem, match="project is longer than 200 characters"):
        create_key(engine, name="a", project="p" * 201, actor=ADMIN)
    with pytest.raises(KeyProblem, match="project is empty"):
        create_key(engine, name="b", project="\t", actor=ADMIN)
