"""Roles: who holds which role, what each role may do, and project scopes."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.access import (
    ACTIONS,
    Actor,
    ConfigError,
    Forbidden,
    Role,
    actor_for,
    local_admin,
    matches,
    parse_roles,
    require,
    role_of,
)

CONFIG = parse_roles(
    {
        "admins": ["alice@example.com"],
        "editors": ["bob@example.com", "*@eng.example.com"],
        "viewers": ["*@example.com"],
        "projects": {"carol@example.com": ["support-bot"], "*@eng.example.com": ["search"]},
    }
)


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("alice@example.com", Role.ADMIN),
        ("ALICE@Example.com", Role.ADMIN),  # e-mails compare case-insensitively
        ("bob@example.com", Role.EDITOR),
        ("dan@eng.example.com", Role.EDITOR),
        ("carol@example.com", Role.VIEWER),
        ("mallory@example.org", None),
        ("alice@example.com.evil.org", None),  # a pattern matches the whole address
        ("x@notexample.com", None),  # "*@example.com" needs the "@"
    ],
)
def test_role_of_email(email: str, role: Role | None) -> None:
    assert role_of({"email": email}, CONFIG) == role


def test_an_unverified_email_holds_no_role() -> None:
    assert role_of({"email": "alice@example.com", "email_verified": False}, CONFIG) is None
    assert role_of({"email": "alice@example.com", "email_verified": True}, CONFIG) is Role.ADMIN


def test_role_claim_matches_its_values_instead_of_the_email() -> None:
    config = parse_roles(
        {"admins": ["finops-admins"], "viewers": ["staff"], "role_claim": "groups"}
    )
    assert role_of({"email": "x@y.z", "groups": ["staff", "finops-admins"]}, config) is Role.ADMIN
    assert role_of({"email": "x@y.z", "groups": "staff"}, config) is Role.VIEWER
    assert role_of({"email": "finops-admins", "groups": []}, config) is None


def test_project_scope_applies_to_viewers_and_editors_never_to_admins() -> None:
    carol = actor_for({"email": "carol@example.com"}, CONFIG)
    dan = actor_for({"email": "dan@eng.example.com"}, CONFIG)
    alice = actor_for({"email": "alice@example.com"}, CONFIG)
    assert carol == Actor("carol@example.com", Role.VIEWER, frozenset({"support-bot"}))
    assert dan is not None and dan.projects == frozenset({"search"})
    assert alice is not None and alice.projects is None
    assert carol.sees("support-bot") and not carol.sees("search")
    assert actor_for({"email": "eve@example.net"}, CONFIG) is None


def test_each_role_may_do_exactly_its_actions() -> None:
    viewer, editor, admin = (Actor("p", role) for role in Role)
    for action, least in ACTIONS.items():
        for actor in (viewer, editor, admin):
            if actor.role >= least:
                require(actor, action)
            else:
                with pytest.raises(Forbidden, match=action):
                    require(actor, action)
    # Spot checks of the table against the product's rules, written out.
    assert not viewer.may("upload") and editor.may("upload")
    assert editor.may("budget.write") and not editor.may("upload.delete")
    assert not editor.may("reprice") and admin.may("reprice") and admin.may("keys.write")
    assert local_admin().may("audit.read")


def test_an_unknown_action_is_a_bug_not_a_refusal() -> None:
    with pytest.raises(KeyError):
        require(local_admin(), "scenario.frobnicate")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"admins": "alice@example.com"}, "admins must be a list"),
        ({"viewers": [""]}, "non-empty"),
        ({"admin": ["a@b.c"]}, "unknown key"),
        ({"role_claim": 3}, "role_claim"),
        ({"projects": ["x"]}, "projects"),
    ],
)
def test_malformed_roles_are_refused_with_the_entry(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_roles(table)


SAFE = st.text(alphabet="abcxyz.@-_+", max_size=12)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(SAFE, min_size=1, max_size=4), value=SAFE)
def test_pattern_matching_equals_shell_globbing_with_star_only(parts: list, value: str) -> None:
    """`*` behaves as in shell patterns; no other character is special."""
    pattern = "*".join(parts)
    assert matches(pattern, value) == fnmatch.fnmatchcase(value, pattern)


def test_brackets_and_question_marks_are_literal() -> None:
    assert matches("a?b@[x].com", "a?b@[x].com")
    assert not matches("a?b@x.com", "acb@x.com")


def test_a_scoped_actor_reads_only_its_projects() -> None:
    carol = Actor("carol@example.com", Role.VIEWER, frozenset({"support-bot", "search"}))
    assert carol.scope(()) == ("search", "support-bot")  # nothing asked: every own project
    assert carol.scope(("search", "billing")) == ("search",)  # never another team's
    assert carol.scope(("billing",)) == ("search", "support-bot")
    everyone = Actor("alice@example.com", Role.ADMIN)
    assert everyone.scope(()) == ()
    assert everyone.scope(("billing",)) == ("billing",)


def test_a_project_scope_must_list_a_project() -> None:
    with pytest.raises(ConfigError, match="lists no project"):
        parse_roles({"viewers": ["*@example.com"], "projects": {"carol@example.com": []}})
