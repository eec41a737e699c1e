"""Usage: what the logged traffic costs, where the money goes, and what fails."""

from datetime import date, timedelta

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.errors import StreamlitAPIException

from db import queries
from db.engine import database_url, make_engine
from ui import format as fmt
from ui.charts import usage as charts
from ui.openai_import import import_panel
from ui.resources import config

TABLE_MONEY = st.column_config.NumberColumn(format="$%.2f")
TABLE_SHARE = st.column_config.NumberColumn(format="percent")
TABLE_COUNT = st.column_config.NumberColumn(format="localized")


@st.cache_data(ttl=60, max_entries=32, show_spinner=False)
def load_filter_values(url: str) -> queries.FilterValues:
    """Projects, models, statuses and the date span stored in the rollups."""
    return queries.filter_values(make_engine(url))


@st.cache_data(ttl=60, max_entries=32, show_spinner="Adding up usage…")
def load_report(
    url: str,
    start: date,
    end: date,
    projects: tuple[str, ...],
    models: tuple[str, ...],
    statuses: tuple[int, ...],
) -> queries.UsageReport:
    """Every aggregate of the page for one set of filters."""
    filters = queries.UsageFilters(start, end, projects, models, statuses)
    return queries.usage_report(make_engine(url), filters)


def page_link(path: str, label: str, icon: str) -> None:
    """A link to another page, or its name in plain text while it is not installed."""
    try:
        st.page_link(path, label=label, icon=icon)
    except (StreamlitAPIException, KeyError):
        st.markdown(f"Open **{label}** in the sidebar.")


def date_range(picked: object, fallback: date) -> tuple[date, date]:
    """The (start, end) of a range date_input, which holds one date while a range is picked."""
    days = [d for d in picked if d] if isinstance(picked, (tuple, list)) else [picked]
    days = [d for d in days if isinstance(d, date)] or [fallback]
    return days[0], days[-1]


def empty_state() -> None:
    """No data yet: say how to get some."""
    st.info(
        "No requests stored yet. Load request logs (JSON lines, OpenAI responses, Batch output, "
        "CSV) and this page shows what the traffic costs, what fails and where to cut.",
        icon=":material/info:",
    )
    page_link("views/upload.py", "Upload logs", ":material/upload_file:")
    st.markdown("Or from a terminal, load 90 days of demo traffic, or your own log file:")
    st.code("python cli.py demo\npython cli.py ingest FILE", language="bash")
    openai_section()


def openai_section() -> None:
    """Pull OpenAI's own usage and billed costs, to check these figures against the bill."""
    st.subheader("OpenAI's own numbers")
    import_panel(url, prefix="usage")
    page_link("views/reconcile.py", "Compare computed and billed cost", ":material/balance:")


st.title("Usage")
url = database_url(config("COSTDESK_DATABASE_URL"))
try:
    values = load_filter_values(url)
except SQLAlchemyError as exc:
    st.error(
        f"Cannot read the usage database ({type(exc).__name__}). Check that "
        "COSTDESK_DATABASE_URL points at a reachable database, then reload the page.",
        icon=":material/error:",
    )
    st.stop()
if values.empty:
    empty_state()
    st.stop()

default_start = max(values.first_day, values.last_day - timedelta(days=29))
with st.form("usage_filters", border=False):
    c_dates, c_projects, c_models, c_status, c_apply = st.columns([2, 2, 2, 1.3, 0.8])
    picked = c_dates.date_input(
        "Dates (UTC)", value=(default_start, values.last_day), key="usage_dates"
    )
    projects = c_projects.multiselect(
        "Projects",
        values.projects,
        format_func=lambda p: p or charts.NONE_LABEL,
        key="usage_projects",
        placeholder="All projects",
    )
    models = c_models.multiselect(
        "Models",
        values.models,
        key="usage_models",
        placeholder="All models",
        help="Price-book models: each includes every name it was logged under.",
    )
    statuses = c_status.multiselect(
        "Status", values.statuses, key="usage_statuses", placeholder="All"
    )
    c_apply.space("small")
    c_apply.form_submit_button("Apply", type="primary", key="usage_apply")

start, end = date_range(picked, default_start)
report = load_report(url, start, end, tuple(projects), tuple(models), tuple(statuses))
k = report.kpis
st.caption(f"{start:%d %b %Y} – {end:%d %b %Y} · data up to {values.last_day:%d %b %Y}")

row1, row2 = st.columns(4), st.columns(4)
row1[0].metric("Spend", fmt.usd(k.cost_usd), border=True, help="Priced requests in the range.")
row1[1].metric(
    "Month to date",
    fmt.usd(k.month_to_date_usd),
    border=True,
    help=f"Spend from {k.month_start:%d %b} to {end:%d %b %Y}, other filters applied.",
)
row1[2].metric("Requests", f"{k.requests:,}", border=True)
row1[3].metric(
    "Avg cost / request",
    fmt.usd(k.avg_cost_per_request_usd, places=4),
    border=True,
    help="Spend divided by priced requests.",
)
row2[0].metric("Tokens", fmt.tokens(k.tokens), border=True, help="Input (incl. cached) + output.")
row2[1].metric("Error rate", fmt.share(k.error_share, 2), border=True, help="Status 400 or above.")
row2[2].metric("P95 latency", fmt.millis(k.p95_latency_ms), border=True)
row2[3].metric("429 responses", f"{k.rate_limited:,}", border=True)

if report.unpriced:
    listed = fmt.counts_text(report.unpriced, "requests")
    st.warning(
        f"Unpriced models: {listed}. Their cost is unknown, not zero, so spend and averages "
        "above leave them out. Add a custom price on the Price book page, then run "
        "`python cli.py reprice`.",
        icon=":material/warning:",
    )

t_cost, t_tokens, t_reliability, t_failure, t_audit = st.tabs(
    ["Cost", "Tokens & caching", "Errors & latency", "Cost of failure", "max_tokens audit"]
)
with t_cost:
    st.subheader("Daily spend by model")
    st.plotly_chart(charts.daily_cost_by_model(report.daily), key="usage_cost_chart")
    st.subheader("Spend by model")
    st.dataframe(
        charts.model_table(report.models),
        hide_index=True,
        column_config={
            "Requests": TABLE_COUNT,
            "Errors": TABLE_COUNT,
            "Tokens": TABLE_COUNT,
            "Spend (USD)": TABLE_MONEY,
            "Share of spend": TABLE_SHARE,
        },
        key="usage_model_table",
    )
    if st.toggle(
        "By logged name",
        key="usage_by_logged_name",
        help="Each model split by the names the logs used for it (dated snapshots, "
        "provider prefixes).",
    ):
        st.dataframe(
            charts.logged_name_table(report.logged_names),
            hide_index=True,
            column_config={
                "Requests": TABLE_COUNT,
                "Errors": TABLE_COUNT,
                "Tokens": TABLE_COUNT,
                "Spend (USD)": TABLE_MONEY,
            },
            key="usage_logged_table",
        )
    st.subheader("Spend by project and feature")
    st.plotly_chart(charts.cost_by_project(report.by_project), key="usage_project_chart")
    st.dataframe(
        charts.project_table(report.by_project),
        hide_index=True,
        column_config={
            "Requests": TABLE_COUNT,
            "Spend (USD)": TABLE_MONEY,
            "Share of spend": TABLE_SHARE,
        },
        key="usage_project_table",
    )
with t_tokens:
    st.subheader("Tokens per day")
    st.plotly_chart(charts.tokens_per_day(report.totals), key="usage_tokens_chart")
    st.subheader("Caching savings")
    st.metric("Saved by cached input", fmt.usd(k.cache_savings_usd), border=True)
    st.caption("Cached input tokens at the full input price, minus what they actually cost.")
    st.plotly_chart(charts.caching_savings(report.totals), key="usage_cache_chart")
with t_reliability:
    st.subheader("Error rate and 429s per day")
    st.plotly_chart(charts.errors_per_day(report.totals), key="usage_errors_chart")
    st.subheader("Latency per day: P95 (solid) and P50 (dotted)")
    st.plotly_chart(charts.latency_per_day(report.latency), key="usage_latency_chart")
    st.caption("Percentiles come from latency histograms (buckets ~10 % wide).")
with t_failure:
    f = report.failure
    c1, c2, c3 = st.columns(3)
    c1.metric("Spent on failed calls", fmt.usd(f.failed_usd), border=True)
    c2.metric("Retry spend (estimate)", fmt.usd(f.retry_usd), border=True)
    c3.metric("Retried calls (estimate)", f"{f.retries:,}", border=True)
    st.caption(queries.RETRY_DEFINITION)
    st.plotly_chart(charts.failure_cost_per_day(f.by_day), key="usage_failure_chart")
    if not f.by_status.empty:
        st.table(charts.status_table(f.by_status), hide_index=True)
with t_audit:
    a = report.audit
    c1, c2, c3 = st.columns(3)
    c1.metric("Responses cut by max_tokens", fmt.share(a.truncated_share, 2), border=True)
    c2.metric("P99 output tokens", fmt.tokens(a.p99_output_tokens), border=True)
    c3.metric(
        "Suggested max_tokens",
        f"{a.suggested_max_tokens:,}" if a.suggested_max_tokens else "—",
        border=True,
    )
    st.caption(
        "Cut = responses whose finish_reason was `length`. Suggested max_tokens = P99 of output "
        f"tokens + {queries.MAX_TOKENS_HEADROOM - 1:.0%} headroom, rounded up to a multiple of "
        f"{queries.MAX_TOKENS_STEP}. {a.zero_output:,} responses with no output tokens "
        "(embeddings, failed calls) are left out. Where many responses are cut, their outputs "
        "stop at today's limit, so the real need is higher: raise the limit, then check again."
    )
    st.plotly_chart(
        charts.output_distribution(a.histogram, a.suggested_max_tokens), key="usage_output_chart"
    )
    st.table(charts.audit_table(a.by_model), hide_index=True)

openai_section()
