"""Ingest keys: what a sender presents to the live receiver (`Authorization: Bearer KEY`).

A key is `cdk-` and 64 hex digits (32 random bytes from `secrets`). It is returned once, when
made; the database keeps its SHA-256 only. A plain hash is enough here: the key has 256 bits
of entropy, so a stored hash cannot be reversed by guessing, and no server secret is needed
(a keyed hash would lose every key with that secret). A presented key is looked up by its hash
and the hashes are compared in constant time. Hex digits and `-` make a key that the log
scrubber's bearer-token pattern redacts whole, should one ever reach a log.

Write functions take keyword arguments only, so the acting user can be added as one more.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from core.access import Actor, require
from core.logs.rules import Refused, accept_label
from db.audit import record
from db.budgets.clock import as_utc
from db.models import IngestKey

KEY = IngestKey.__table__
PREFIX = "cdk-"
TOKEN_BYTES = 32
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
USED_EVERY = timedelta(minutes=1)  # last use is written at most this often per key


class KeyProblem(ValueError):
    """A key that cannot be made or revoked, with a reason a person can act on."""


@dataclass(frozen=True)
class Key:
    """An ingest key as the product shows it (never the key or its hash)."""

    name: str
    project: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


SHOWN = [KEY.c[name] for name in Key.__dataclass_fields__]  # the columns a Key is read from


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 as 64 hex digits."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_name(name: str | None) -> str:
    """A key's name: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit."""
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise KeyProblem(
            f"key name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_project(project: str | None) -> str | None:
    """A key's project, by the rule every project label follows (None when not given)."""
    if project is None:
        return None
    try:
        label = accept_label(project)
    except Refused as exc:
        raise KeyProblem(f"project {exc}") from None
    if not label:
        raise KeyProblem("project is empty; leave --project out for keys without one")
    return label


def create_key(
    engine: Engine, *, name: str, project: str | None = None, actor: Actor
) -> tuple[Key, str]:
    """Make a key called `name`; returns it with the key itself, which is not kept anywhere."""
    require(actor, "keys.write")
    name, project = check_name(name), check_project(project)
    token = PREFIX + secrets.token_hex(TOKEN_BYTES)
    values = {"name": name, "project": project, "created_at": datetime.now(UTC)}
    try:
        with engine.begin() as conn:
            conn.execute(KEY.insert().values(**values, key_hash=hash_key(token)))
            record(conn, actor, "key.create", name, None, {"project": project})
    except IntegrityError:
        raise KeyProblem(
            f"a key named {name!r} exists already (names stay taken after a revoke)"
        ) from None
    return Key(**values, last_used_at=None, revoked_at=None), token


def list_keys(engine: Engine) -> list[Key]:
    """Every key, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(*SHOWN).order_by(KEY.c.id)).all()
    return [_key(row) for row in rows]


def get_key(engine: Engine, name: str) -> Key | None:
    """The key called `name`, if there is one."""
    with engine.connect() as conn:
        row = conn.execute(select(*SHOWN).where(KEY.c.name == name)).first()
    return _key(row) if row is not None else None


def revoke_key(engine: Engine, *, name: str, actor: Actor) -> Key:
    """Revoke the key called `name` from now on (a revoked key keeps its first revocation)."""
    require(actor, "keys.write")
    with engine.begin() as conn:
        revoked = conn.execute(
            update(KEY)
            .where(KEY.c.name == name, KEY.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        ).rowcount
        if revoked:
            record(conn, actor, "key.revoke", name, {"revoked": False}, {"revoked": True})
    found = get_key(engine, name)
    if found is None:
        raise KeyProblem(f"no key named {name!r}; see: keys list")
    return found


def authenticate(engine: Engine, presented: str) -> Key | None:
    """The live key that `presented` is, or None (unknown, or revoked)."""
    wanted = hash_key(presented)
    with engine.connect() as conn:
        row = conn.execute(select(KEY.c.key_hash, *SHOWN).where(KEY.c.key_hash == wanted)).first()
    if row is None or not hmac.compare_digest(row.key_hash, wanted):
        return None
    key = _key(row)
    return None if key.revoked_at is not None else key


def mark_used(engine: Engine, *, key: Key, now: datetime | None = None) -> None:
    """Record that `key` was just used (at most once a minute: a busy sender adds no writes)."""
    now = now or datetime.now(UTC)
    if key.last_used_at is not None and now - key.last_used_at < USED_EVERY:
        return
    with engine.begin() as conn:
        conn.execute(update(KEY).where(KEY.c.name == key.name).values(last_used_at=now))


def _key(row: object) -> Key:
    """A key from a row of its table's public columns (times as aware UTC)."""
    values = {name: getattr(row, name) for name in Key.__dataclass_fields__}
    for name in ("created_at", "last_used_at", "revoked_at"):
        values[name] = as_utc(values[name]) if values[name] else None  # SQLite's are naive
    return Key(**values)
