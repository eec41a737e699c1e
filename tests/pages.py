"""The dashboard's pages as declared in app.py, for tests that visit every page."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageInfo:
    path: str
    title: str
    url_path: str
    default: bool


def _literal(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def declared_pages() -> list[PageInfo]:
    """Every `st.Page(...)` call in app.py, in navigation order."""
    tree = ast.parse((ROOT / "app.py").read_text())
    pages = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page":
            kw = {k.arg: k.value for k in node.keywords}
            pages.append(
                PageInfo(
                    path=node.args[0].value,
                    title=_literal(kw["title"]) if "title" in kw else "",
                    url_path=_literal(kw["url_path"]) if "url_path" in kw else "",
                    default=bool(_literal(kw["default"])) if "default" in kw else False,
                )
            )
    return sorted(pages, key=lambda p: p.default, reverse=True)
