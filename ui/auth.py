"""Sign-in for the dashboard: who the visitor is, and what they may see and do.

Without an `[auth]` section in Streamlit's secrets, Costdesk is a single-user local tool and
its user acts as the local administrator. With one (Streamlit's OpenID Connect settings, any
provider), `gate()` shows a signed-out visitor a "Log in" button and nothing else, and a
signed-in person with no role "not authorised" and nothing else; it stops the script before
any page runs, so no figure reaches the browser. Roles come from `[costdesk.roles]`
(`core.access` documents the table). Pages read the actor with `actor()` to hide what the
role cannot do; `db/` checks the same actor again on every write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.access import (
    ACTIONS,
    Actor,
    ConfigError,
    Role,
    RolesConfig,
    actor_for,
    local_admin,
    parse_roles,
)

_ACTOR = "_costdesk_actor"
_SIGNED_IN = "_costdesk_signin_recorded"


def _secrets_table(name: str) -> Mapping[str, Any]:
    """A table of Streamlit's secrets ({} when there is no secrets file or no such table)."""
    try:
        value = st.secrets.get(name)
    except (FileNotFoundError, OSError, ValueError):
        return {}
    return value if isinstance(value, Mapping) else {}


def sign_in_configured() -> bool:
    """Whether Streamlit's secrets hold an `[auth]` section (team mode)."""
    return bool(_secrets_table("auth"))


def roles_config() -> RolesConfig:
    """The `[costdesk.roles]` table (a `ConfigError` when it is malformed)."""
    costdesk = _secrets_table("costdesk")
    roles = costdesk.get("roles", {}) if isinstance(costdesk, Mapping) else {}
    return parse_roles(roles if isinstance(roles, Mapping) else {})


def gate() -> Actor:
    """The acting user; in team mode, stop the script for anyone not signed in with a role."""
    if not sign_in_configured():
        return _remember(local_admin())
    if not st.user.is_logged_in:
        _sign_in_screen()
    try:
        config = roles_config()
    except ConfigError as err:
        _refuse(f"Sign-in is set up, but the role settings cannot be used: {err}.")
    identity = st.user.to_dict()
    actor = actor_for(identity, config)
    if actor is None:
        _refuse(
            f"You are signed in as {identity.get('email') or identity.get('sub')}, "
            "but no role is given to that account. Ask an administrator to add you."
        )
    _record_sign_in(actor)
    return _remember(actor)


def actor() -> Actor:
    """The actor `gate()` admitted in this session (the local administrator in local mode)."""
    found = st.session_state.get(_ACTOR)
    return found if isinstance(found, Actor) else local_admin()


def _remember(found: Actor) -> Actor:
    st.session_state[_ACTOR] = found
    return found


def _sign_in_screen() -> None:
    """Only a "Log in" button; stops the script."""
    st.title("Costdesk")
    st.write("Sign in to see your team's LLM spend.")
    st.button("Log in", type="primary", on_click=st.login, key="costdesk_login")
    st.stop()


def _refuse(message: str) -> None:
    """Not authorised: the reason and a way out; stops the script."""
    from ui.format import escape_markdown

    st.title("Not authorised")
    st.error(escape_markdown(message))
    st.button("Log out", on_click=st.logout, key="costdesk_logout_refused")
    st.stop()


def _record_sign_in(found: Actor) -> None:
    """One audit row per signed-in session."""
    if st.session_state.get(_SIGNED_IN) == found.name:
        return
    from db.audit import record_now
    from ui.resources import engine

    record_now(engine(), found, "sign_in", found.name)
    st.session_state[_SIGNED_IN] = found.name


def sidebar(found: Actor) -> None:
    """Who is signed in (and a way out), or that sign-in is off."""
    if found.via == "local":
        st.sidebar.caption(
            "Sign-in is off: single-user local mode. See the README's "
            "*Deploying for a team* to share Costdesk."
        )
        return
    scope = f" · sees {', '.join(sorted(found.projects))}" if found.projects is not None else ""
    from ui.format import escape_markdown

    st.sidebar.caption(escape_markdown(f"Signed in as {found.name} ({found.role.label}){scope}"))
    st.sidebar.button("Log out", on_click=st.logout, key="costdesk_logout")


def can(action: str) -> bool:
    """Whether this session's actor may do `action` (for hiding what a role cannot do)."""
    return actor().may(action)


def needs(action: str) -> bool:
    """Show why an action is unavailable; True when the actor may do it."""
    if can(action):
        return True
    needed = ACTIONS[action]
    st.info(
        f"Your role ({actor().role.label}) can view this page; "
        f"{'an editor' if needed is Role.EDITOR else 'an administrator'} can make this change."
    )
    return False
