"""Re-pricing: recompute every stored cost (and model identity) with the current price book.

After a custom price is added or changed, stored costs and the rollups are recomputed from
the stored token counts through the one kernel (`core.costs.price_arrays`), in one
transaction: pages never see half-updated totals.

Pruned days (`db.retention`) have no rows left to re-price: their rollups keep the cost stored
when their requests went in (a rollup's token sums cannot be re-priced exactly: a long-context
tier and the service tier are per request). The report says from which day costs are current.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, select, true, update

from core.access import Actor, require
from core.costs import PRICE_KEY, PRICED_TOKENS, picos_to_usd
from core.identity import identify_column
from core.prepare import MemoBook, price_events
from core.pricing import PriceBook
from core.rollups import COST_COLUMNS
from db.audit import record
from db.ingest.rollups import rebuild
from db.ingest.uploads import UPLOAD, recount
from db.models import RequestLog
from db.retention import kept_from

LOG = RequestLog.__table__
REPRICE_ROWS = 50_000
_INPUT = ("id", "ts", *PRICE_KEY, *PRICED_TOKENS, "cost_pusd", "upload_id")
_SET = (*COST_COLUMNS, "priced", "price_version", "model_id")


@dataclass
class RepriceReport:
    """What a re-price changed: rows priced, total cost before and after, unpriced models."""

    rows: int = 0
    before_pusd: int = 0
    after_pusd: int = 0
    unpriced_models: dict[str, int] = field(default_factory=dict)
    kept_from: date | None = None  # days before it were pruned and keep their stored cost
    upload_changes: Counter = field(default_factory=Counter)  # upload id -> cost change

    @property
    def change_usd(self) -> Decimal:
        """After minus before, exact."""
        return picos_to_usd(self.after_pusd - self.before_pusd)


def reprice(
    engine: Engine, book: PriceBook | None = None, *, upload_id: int | None = None, actor: Actor
) -> RepriceReport:
    """Recompute every stored cost (or one upload's) with the current price book, then rebuild
    the rollups of the days touched and the uploads' totals, all in one transaction."""
    require(actor, "reprice")
    return reprice_rows(engine, book, upload_id=upload_id, actor=actor)


def reprice_rows(
    engine: Engine,
    book: PriceBook | None = None,
    *,
    upload_id: int | None = None,
    actor: Actor | None = None,
) -> RepriceReport:
    """`reprice` once allowed: also run by an ingest (`actor` None, not recorded) to price
    its own rows again when custom prices changed while it ran."""
    from db.prices import load_price_book

    memo = MemoBook(book or load_price_book(engine))
    report = RepriceReport()
    values = {n: bindparam(f"v_{n}") for n in _SET}
    stmt = update(LOG).where(LOG.c.id == bindparam("v_id")).values(values)
    scope = LOG.c.upload_id == upload_id if upload_id is not None else true()
    with engine.begin() as conn:
        report.kept_from = kept_from(conn)
        last_id = 0
        while True:
            query = select(*(LOG.c[n] for n in _INPUT)).where(scope, LOG.c.id > last_id)
            rows = conn.execute(query.order_by(LOG.c.id).limit(REPRICE_ROWS)).all()
            if not rows:
                break
            batch = pd.DataFrame(rows, columns=list(_INPUT))
            last_id = int(batch["id"].iloc[-1])
            _reprice_batch(conn, stmt, batch, memo, report)
        if upload_id is None:
            rebuild(conn)
        else:
            days = conn.execute(select(LOG.c.day).where(scope).distinct()).scalars().all()
            rebuild(conn, days)
        _update_uploads(conn, report, everything=upload_id is None)
        if actor is not None:
            target = "every request" if upload_id is None else f"upload #{upload_id}"
            change = {
                "rows": report.rows,
                "before_usd": picos_to_usd(report.before_pusd),
                "after_usd": picos_to_usd(report.after_pusd),
            }
            record(conn, actor, "reprice", target, None, change)
    return report


def _update_uploads(conn: Connection, report: RepriceReport, *, everything: bool) -> None:
    """Uploads' totals after a re-price: all recounted from their rows, or changed by what
    their rows did (one upload re-priced, or rows pruned: an upload's total then holds more
    than its remaining rows)."""
    if everything and report.kept_from is None:
        recount(conn)
        return
    for upload_id, change in report.upload_changes.items():
        if change and upload_id is not None:
            conn.execute(
                update(UPLOAD)
                .where(UPLOAD.c.id == upload_id)
                .values(cost_pusd=UPLOAD.c.cost_pusd + change)
            )


def _columns(batch: pd.DataFrame) -> dict[str, np.ndarray]:
    """A batch of stored rows as the arrays the pricer takes (ts as UTC microseconds)."""
    stamps = pd.to_datetime(batch["ts"], utc=True).dt.as_unit("us")
    cols = {"ts": stamps.astype("int64").to_numpy()}
    for name in ("model", "service_tier"):
        cols[name] = batch[name].fillna("").astype(object).to_numpy()
    cols["batch"] = batch["batch"].astype(bool).to_numpy()
    for name in PRICED_TOKENS:
        cols[name] = batch[name].astype("int64").to_numpy()
    return cols


def _reprice_batch(
    conn: Connection, stmt: Any, batch: pd.DataFrame, book: MemoBook, report: RepriceReport
) -> None:
    report.before_pusd += int(sum(batch["cost_pusd"].tolist()))
    cols = _columns(batch)
    price_events(cols, book)
    cols["model_id"] = identify_column(book, cols["model"])[1]  # type: ignore[arg-type]
    ids = batch["id"].tolist()
    values = [cols[n].tolist() for n in _SET]
    params = [
        {"v_id": i, **{f"v_{n}": v for n, v in zip(_SET, row, strict=True)}}
        for i, row in zip(ids, zip(*values, strict=True), strict=True)
    ]
    conn.execute(stmt, params)
    report.rows += len(ids)
    report.after_pusd += int(sum(cols["cost_pusd"].tolist()))
    change = cols["cost_pusd"] - batch["cost_pusd"].to_numpy(np.int64)
    owners = [None if pd.isna(v) else int(v) for v in batch["upload_id"].tolist()]
    for owner, delta in zip(owners, change.tolist(), strict=True):
        report.upload_changes[owner] += delta
    unpriced = ~cols["priced"]
    for model in cols["model"][unpriced].tolist():
        report.unpriced_models[model] = report.unpriced_models.get(model, 0) + 1
