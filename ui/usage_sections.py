"""The Usage page's parts: KPI cards against the previous period, and one function per section.

A section loads only the rollup reads it draws (`ui.resources.load_usage`), so the page
computes the open tab alone. Text from logs is escaped; tables format their numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any

import streamlit as st

from core.currency import Conversion
from db import queries
from ui import drilldown
from ui import format as fmt
from ui import usage_tables as tables
from ui.charts import draw
from ui.charts import usage as charts
from ui.currency import money as money_text
from ui.currency import rate_caption
from ui.dates import DateRange
from ui.dimensions import group_section
from ui.resources import load_usage


def money(values: Any, conv: Conversion | None = None) -> Any:
    """A money column: cents, or four decimals where cents would hide a non-zero amount."""
    tiny = any(0 < abs(float(v)) < 0.01 for v in values)
    if conv is not None and conv.converted:
        return st.column_config.NumberColumn(format=f"%,.{4 if tiny else 2}f {conv.currency}")
    return st.column_config.NumberColumn(format="$%,.4f" if tiny else "dollar")


SHARE = st.column_config.NumberColumn(format="percent")
COUNT = st.column_config.NumberColumn(format="localized")
DRILL_HINT = "Click a bar to see the users, projects and requests behind that day and model."


@dataclass(frozen=True)
class UsageView:
    """What every section needs: where to read, what is stored now, the filters and days."""

    url: str
    version: tuple
    filters: queries.UsageFilters
    span: DateRange
    group_by: str = "project"  # the dimension "Who spent it" splits by
    conversion: Conversion = field(default_factory=Conversion)  # display currency, range end

    def money(self, usd: Decimal | None, places: int | None = None) -> str:
        """An amount in the display currency ('—' for none)."""
        return "—" if usd is None else money_text(usd, self.conversion, places)

    def load(self, name: str, filters: queries.UsageFilters | None = None) -> Any:
        """A cached rollup read of these filters (or others)."""
        return load_usage(self.url, self.version, name, filters or self.filters)

    def kpis(self, filters: queries.UsageFilters | None = None) -> queries.UsageKpis:
        """Headline figures of these filters (or of the previous period's)."""
        f = filters or self.filters
        latency = self.load("latency_buckets", f)
        return queries.assemble_kpis(self.load("kpi_totals", f), f, latency)

    def previous(self) -> queries.UsageFilters:
        """The same filters over the period the range is compared with."""
        start, end = self.span.previous
        return replace(self.filters, start=start, end=end)


def change(now: Decimal | float | int | None, before: Decimal | float | int | None) -> str | None:
    """'+12.3 %' against the previous period; None when there is nothing to compare with."""
    if now is None or before is None or not before:
        return None
    ratio = (Decimal(str(now)) - Decimal(str(before))) / Decimal(str(before)) * 100
    return f"{ratio:+,.1f} %"


def points(now: float | None, before: float | None) -> str | None:
    """'+0.40 pp': the change of a share, in percentage points."""
    if now is None or before is None:
        return None
    return f"{(now - before) * 100:+.2f} pp"


def kpi_cards(view: UsageView) -> None:
    """Eight cards; each change is against the previous period (cost up shows red)."""
    k, p = view.kpis(), view.kpis(view.previous())
    row1, row2 = st.columns(4), st.columns(4)
    versus = f"against {view.span.previous_text}"
    cards = [
        (row1[0], "Spend", view.money(k.cost_usd), change(k.cost_usd, p.cost_usd), "inverse",
         f"Priced requests, {view.span.text}; {view.money(p.cost_usd)} in "
         f"{view.span.previous_text}."),
        (row1[1], "Month to date", view.money(k.month_to_date_usd), None, "off",
         f"Spend from {k.month_start:%d %b} to {view.filters.end:%d %b %Y}, filters applied."),
        (row1[2], "Requests", f"{k.requests:,}", change(k.requests, p.requests), "off", ""),
        (row1[3], "Avg cost / request", view.money(k.avg_cost_per_request_usd, places=4),
         change(k.avg_cost_per_request_usd, p.avg_cost_per_request_usd), "inverse",
         "Spend divided by priced requests."),
        (row2[0], "Tokens", fmt.tokens(k.tokens), change(k.tokens, p.tokens), "off",
         "Input (incl. cached) + output."),
        (row2[1], "Error rate", fmt.share(k.error_share, 2), points(k.error_share, p.error_share),
         "inverse", "Status 400 or above; the change is in percentage points."),
        (row2[2], "P95 latency", fmt.millis(k.p95_latency_ms),
         change(k.p95_latency_ms, p.p95_latency_ms), "inverse", ""),
        (row2[3], "429 responses", f"{k.rate_limited:,}", change(k.rate_limited, p.rate_limited),
         "inverse", ""),
    ]  # fmt: skip
    for where, label, value, delta, color, note in cards:
        where.metric(label, value, delta, color, border=True,
                     help=f"{note} Change {versus}.".strip() if delta else note or None)  # fmt: skip


def unpriced_warning(view: UsageView) -> None:
    """Models whose cost is unknown (not zero), and how to price them."""
    unpriced = queries.unpriced_models(view.load("daily"))
    if unpriced:
        st.warning(
            f"Unpriced models: {fmt.counts_text(unpriced, 'requests')}. Their cost is unknown, "
            "not zero, so spend and averages above leave them out. Add a custom price on the "
            "Price book page, then press Re-price all on the Upload logs page.",
            icon=":material/warning:",
        )


def cost_section(view: UsageView) -> None:
    """Daily spend by model (click a bar to drill down), spend by model, project and feature."""
    st.subheader("Daily spend by model")
    draw(
        charts.daily_cost_by_model(view.load("daily"), view.conversion),
        key=drilldown.CHART_KEY,
        on_select=drilldown.on_chart_pick,
        selection_mode=charts.PICK,
    )
    st.caption(DRILL_HINT)
    conv, spend = view.conversion, charts.spend_column(view.conversion)
    names = view.load("names")
    totals = queries.model_totals(names)
    st.subheader("Spend by model")
    table = tables.model_table(totals, conv)
    st.dataframe(table, hide_index=True,
                 column_config={"Requests": COUNT, "Errors": COUNT, "Tokens": COUNT,
                                spend: money(table[spend], conv), "Share of spend": SHARE,
                                "Logged names": COUNT}, key="usage_model_table",
                 on_select=partial(drilldown.on_model_pick, totals["model_id"].tolist()),
                 selection_mode="single-row")  # fmt: skip
    st.caption("Pick a model's row to see its users and requests.")
    if st.toggle("By logged name", key="usage_by_logged_name", help="Each model split by the "
                 "names the logs used for it (dated snapshots, provider prefixes)."):  # fmt: skip
        logged = tables.logged_name_table(names, conv)
        st.dataframe(logged, hide_index=True,
                     column_config={"Requests": COUNT, "Errors": COUNT, "Tokens": COUNT,
                                    spend: money(logged[spend], conv)},
                     key="usage_logged_table")  # fmt: skip
    by_project = view.load("by_project")
    st.subheader("Spend by project and feature")
    draw(charts.cost_by_project(by_project, conv), key="usage_project_chart")
    projects = tables.project_table(by_project, conv)
    st.dataframe(projects, hide_index=True,
                 column_config={"Requests": COUNT, spend: money(projects[spend], conv),
                                "Share of spend": SHARE}, key="usage_project_table")  # fmt: skip
    rate_caption(conv)


def tokens_section(view: UsageView) -> None:
    """Tokens per day and what caching saved."""
    totals = queries.daily_totals(view.load("daily"))
    st.subheader("Tokens per day")
    draw(charts.tokens_per_day(totals), key="usage_tokens_chart")
    st.subheader("Caching savings")
    st.metric("Saved by cached input", view.money(view.kpis().cache_savings_usd), border=True,
              width=280)  # fmt: skip
    st.caption("Cached input tokens at the full input price, minus what they actually cost.")
    draw(charts.caching_savings(totals, view.conversion), key="usage_cache_chart")
    rate_caption(view.conversion)


def reliability_section(view: UsageView) -> None:
    """Errors and 429s per day; latency per model as small multiples."""
    st.subheader("Error rate and 429s per day")
    draw(charts.errors_per_day(queries.daily_totals(view.load("daily"))), key="usage_errors_chart")
    st.subheader("Latency per day and model (ms): P95 solid, P50 dotted")
    latency = view.load("latency")
    draw(charts.latency_per_day(latency), key="usage_latency_chart")
    st.caption("Percentiles come from latency histograms (buckets ~10 % wide).")


def failure_section(view: UsageView) -> None:
    """What failed calls and retries cost."""
    f: queries.FailureCost = view.load("failure")
    c1, c2, c3 = st.columns(3)
    c1.metric("Spent on failed calls", view.money(f.failed_usd), border=True)
    c2.metric("Retry spend (estimate)", view.money(f.retry_usd), border=True)
    c3.metric("Retried calls (estimate)", f"{f.retries:,}", border=True)
    st.caption(queries.RETRY_DEFINITION)
    draw(charts.failure_cost_per_day(f.by_day, view.conversion), key="usage_failure_chart")
    if not f.by_status.empty:
        st.table(tables.status_table(f.by_status, view.conversion), hide_index=True)
    rate_caption(view.conversion)


def audit_section(view: UsageView) -> None:
    """How often max_tokens cut a response, and the limit the outputs suggest."""
    a = queries.assemble_audit(view.load("output"), view.load("daily"))
    c1, c2, c3 = st.columns(3)
    c1.metric("Responses cut by max_tokens", fmt.share(a.truncated_share, 2), border=True)
    c2.metric("P99 output tokens", fmt.tokens(a.p99_output_tokens), border=True)
    suggested = f"{a.suggested_max_tokens:,}" if a.suggested_max_tokens else "—"
    c3.metric("Suggested max_tokens", suggested, border=True)
    st.caption(
        "Cut = responses whose finish_reason was `length`. Suggested max_tokens = P99 of output "
        f"tokens + {queries.MAX_TOKENS_HEADROOM - 1:.0%} headroom, rounded up to a multiple of "
        f"{queries.MAX_TOKENS_STEP}. {a.zero_output:,} responses with no output tokens "
        "(embeddings, failed calls) are left out. Where many responses are cut, their outputs "
        "stop at today's limit, so the real need is higher: raise the limit, then check again."
    )
    draw(charts.output_distribution(a.histogram, a.suggested_max_tokens), key="usage_output_chart")
    st.table(tables.audit_table(a.by_model), hide_index=True)


def requests_section(view: UsageView) -> None:
    """Users & requests: the drill-down over the raw rows of a day or a model."""
    drilldown.requests_section(
        view.url, view.version, view.filters, view.load("daily"), view.conversion
    )
    rate_caption(view.conversion)


DRAW = {
    "Cost": cost_section,
    "Who spent it": group_section,
    "Tokens & caching": tokens_section,
    "Errors & latency": reliability_section,
    "Cost of failure": failure_section,
    "max_tokens audit": audit_section,
    drilldown.SECTION: requests_section,
}
