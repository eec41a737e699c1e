"""`keys`: the ingest keys that senders present to the live receiver (`serve`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from commands.common import DbOption, JsonOption, cli_actor, emit_json, fail, open_db
from db.keys import Key, KeyProblem, create_key, list_keys, revoke_key

keys_app = typer.Typer(help="Ingest keys for the live receiver: create, list, revoke.")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name for the key (shown in uploads).")],
    project: Annotated[
        str | None,
        typer.Option("--project", help="Project for records sent with this key that name none."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a key; it is printed once (only its hash is stored)."""
    try:
        key, token = create_key(open_db(db), name=name, project=project, actor=cli_actor())
    except KeyProblem as exc:
        fail(str(exc))
    if as_json:
        emit_json({"name": key.name, "project": key.project, "key": token})
        return
    typer.echo(token)
    typer.echo(
        f"key {key.name!r} made; it is shown this once (Costdesk keeps only its hash). "
        "Send it as: Authorization: Bearer KEY",
        err=True,
    )


@keys_app.command("list")
def list_command(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every key: name, project, when made, last used and revoked (never the key)."""
    found = list_keys(open_db(db))
    if as_json:
        emit_json({"keys": [_row(key) for key in found]})
        return
    if not found:
        typer.echo("no ingest keys yet; make one with: python cli.py keys create --name NAME")
    for key in found:
        row = _row(key)
        state = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "live"
        typer.echo(
            f"{key.name}  project {row['project'] or '-'}  made {_when(key.created_at)}  "
            f"last used {_when(key.last_used_at)}  {state}"
        )


@keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The key's name (see keys list).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: requests sending it are refused (401) from now on."""
    try:
        key = revoke_key(open_db(db), name=name, actor=cli_actor())
    except KeyProblem as exc:
        fail(str(exc))
    if as_json:
        emit_json(_row(key))
        return
    typer.echo(f"key {key.name!r} revoked {_when(key.revoked_at)}")


def _row(key: Key) -> dict[str, object]:
    """A key as JSON: name, project, created_at, last_used_at, revoked_at."""
    return {
        "name": key.name,
        "project": key.project,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _when(moment: datetime | None) -> str:
    """A stored instant to the minute, in UTC ("never" when unset)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def register(app: typer.Typer) -> None:
    """Add `keys` to the CLI."""
    app.add_typer(keys_app, name="keys")
