"""Who may do what: roles, the actions each allows, and who holds which role.

Pure rules, no Streamlit and no database: the dashboard turns a signed-in identity into an
`Actor` with `actor_for`, and every write function in `db/` calls `require(actor, action)`
before it changes anything, so a hidden button is never the only guard.

Roles are ordered: a viewer reads every page, uses the calculator and exports; an editor also
uploads logs, saves scenarios and routing simulations, manages budgets, alert rules and the
model shortlist; an admin also deletes uploads, re-prices, edits custom prices, notification
settings and ingest keys, and reads the audit trail. Without sign-in configured the dashboard
is a single-user local tool and its user is the local administrator; the command line always
acts as a local administrator (shell access is already full access), recorded as such.

Configuration (the `[costdesk.roles]` table of the secrets file):

    admins  = ["alice@example.com"]      # e-mails, or "*@example.com" patterns
    editors = ["bob@example.com"]
    viewers = ["*@example.com"]
    role_claim = "groups"                # optional: match this ID-token claim's values instead
    [costdesk.roles.projects]            # optional: viewers and editors who see some projects
    "carol@example.com" = ["support-bot"]

A person gets the highest role any entry gives them; matching is case-insensitive and `*` is
the only wildcard. Project scopes never apply to admins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache


class Role(IntEnum):
    """Roles in increasing power."""

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role's name as people read it."""
        return self.name.lower()


# Every action that changes stored data (or reads the audit trail), with the least role allowed.
ACTIONS: dict[str, Role] = {
    "upload": Role.EDITOR,
    "scenario.save": Role.EDITOR,
    "scenario.delete": Role.EDITOR,
    "routing.save": Role.EDITOR,
    "budget.write": Role.EDITOR,
    "alert_rule.write": Role.EDITOR,
    "alerts.check": Role.EDITOR,
    "shortlist.write": Role.EDITOR,
    "column_mapping.write": Role.EDITOR,
    "import": Role.ADMIN,
    "upload.delete": Role.ADMIN,
    "reprice": Role.ADMIN,
    "prune": Role.ADMIN,
    "price.write": Role.ADMIN,
    "settings.write": Role.ADMIN,
    "keys.write": Role.ADMIN,
    "audit.read": Role.ADMIN,
}


class Forbidden(PermissionError):
    """The acting user's role does not allow the action."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a name for the audit trail, a role, an optional project scope, and how they
    came in (`web`, `local`, `cli`, `receiver`)."""

    name: str
    role: Role
    projects: frozenset[str] | None = None
    via: str = "web"

    def may(self, action: str) -> bool:
        """Whether the actor's role allows `action`."""
        return self.role >= ACTIONS[action]

    def sees(self, project: str) -> bool:
        """Whether the actor may see `project`'s figures."""
        return self.projects is None or project in self.projects

    def scope(self, requested: Iterable[str]) -> tuple[str, ...]:
        """The projects a read may cover: those asked for (none asked: every project), kept
        within the actor's projects; a scoped actor asking for none it sees gets its own."""
        asked = tuple(requested)
        if self.projects is None:
            return asked
        return tuple(p for p in asked if p in self.projects) or tuple(sorted(self.projects))


def local_admin(name: str = "local user", via: str = "local") -> Actor:
    """The single user of a local dashboard, or the command line (`via="cli"`)."""
    return Actor(name=name, role=Role.ADMIN, via=via)


def sender(name: str, via: str) -> Actor:
    """A program that sends logs (a live receiver's key, the SDK wrapper): it may store
    requests and nothing else an editor may not."""
    return Actor(name=name, role=Role.EDITOR, via=via)


SENDERS = ("receiver", "sdk")  # the `via` of senders: their many small batches are not audited


def require(actor: Actor, action: str) -> None:
    """Raise `Forbidden` unless `actor` may do `action` (an unknown action is a bug)."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    if not actor.may(action):
        needed = ACTIONS[action].label
        raise Forbidden(f"{actor.name} is a {actor.role.label}; {action} needs {needed} rights")


@dataclass(frozen=True)
class RolesConfig:
    """The role lists and project scopes from configuration."""

    admins: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()
    role_claim: str | None = None
    projects: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def empty(self) -> bool:
        """No one is given any role."""
        return not (self.admins or self.editors or self.viewers)


class ConfigError(ValueError):
    """The roles configuration cannot be used."""


def parse_roles(table: Mapping[str, object]) -> RolesConfig:
    """The `[costdesk.roles]` table as a `RolesConfig`; a malformed entry is a `ConfigError`
    naming it (sign-in then admits no one rather than guessing)."""
    known = {"admins", "editors", "viewers", "role_claim", "projects"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"unknown key in [costdesk.roles]: {', '.join(unknown)}")
    lists = {
        name: _patterns(table.get(name, []), name) for name in ("admins", "editors", "viewers")
    }
    claim = table.get("role_claim")
    if claim is not None and (not isinstance(claim, str) or not claim.strip()):
        raise ConfigError("role_claim must be the name of an ID-token claim")
    scopes = table.get("projects", {})
    if not isinstance(scopes, Mapping):
        raise ConfigError("[costdesk.roles.projects] must map people to lists of projects")
    projects = tuple(
        (_pattern(who, "projects"), tuple(_names(names, f"projects.{who}")))
        for who, names in scopes.items()
    )
    return RolesConfig(**lists, role_claim=claim.strip() if claim else None, projects=projects)


def _patterns(value: object, name: str) -> tuple[str, ...]:
    """A list of e-mail patterns."""
    return tuple(_pattern(item, name) for item in _names(value, name))


def _names(value: object, name: str) -> list[str]:
    """A list of non-empty strings (a project scope lists at least one project)."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a list of strings")
    items = list(value)
    if not items and name.startswith("projects."):
        raise ConfigError(f"{name} lists no project")
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise ConfigError(f"{name} must be a list of non-empty strings")
    return [item.strip() for item in items]


def _pattern(value: object, name: str) -> str:
    """One pattern: a string with `*` as its only wildcard."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} holds an empty entry")
    return value.strip().lower()


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` with `*` matching any run of characters and nothing else special."""
    return re.compile(".*".join(map(re.escape, pattern.split("*"))), re.IGNORECASE)


def matches(pattern: str, value: str) -> bool:
    """Whether `value` matches `pattern` (case-insensitive, `*` any run of characters)."""
    return _compiled(pattern.lower()).fullmatch(value.strip().lower()) is not None


def role_of(identity: Mapping[str, object], config: RolesConfig) -> Role | None:
    """The highest role `identity` (ID-token claims) holds, None when it holds none. Roles are
    matched on the e-mail, or on the values of `role_claim` when one is configured; an e-mail
    the provider marks unverified (`email_verified: false`) matches nothing."""
    values = _values(identity, config)
    for role, patterns in (
        (Role.ADMIN, config.admins),
        (Role.EDITOR, config.editors),
        (Role.VIEWER, config.viewers),
    ):
        if any(matches(p, v) for p in patterns for v in values):
            return role
    return None


def _values(identity: Mapping[str, object], config: RolesConfig) -> list[str]:
    """What the role patterns are matched against."""
    if config.role_claim:
        claim = identity.get(config.role_claim)
        items = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
        return [item for item in items if isinstance(item, str) and item]
    email = identity.get("email")
    if not isinstance(email, str) or not email or identity.get("email_verified") is False:
        return []
    return [email]


def actor_for(identity: Mapping[str, object], config: RolesConfig) -> Actor | None:
    """The actor a signed-in identity acts as, None when no role is given to it."""
    role = role_of(identity, config)
    if role is None:
        return None
    name = str(identity.get("email") or identity.get("sub") or "unknown")
    scope: set[str] = set()
    scoped = False
    if role is not Role.ADMIN:
        for pattern, names in config.projects:
            if matches(pattern, name):
                scoped = True
                scope.update(names)
    return Actor(name=name, role=role, projects=frozenset(scope) if scoped else None)
