"""Usage: what the logged traffic costs, where the money goes, what fails, and who sent it."""

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.errors import StreamlitAPIException

from db import queries
from ui import dimensions, drilldown
from ui import usage_sections as sections
from ui.auth import actor
from ui.charts import usage as charts
from ui.currency import display_conversion, rate_caption
from ui.dates import date_range
from ui.format import escape_markdown
from ui.openai_import import import_panel
from ui.resources import data_version, database, load_filter_values


def page_link(path: str, label: str, icon: str) -> None:
    """A link to another page, or its name in plain text while it is not installed."""
    try:
        st.page_link(path, label=label, icon=icon)
    except (StreamlitAPIException, KeyError):
        st.markdown(f"Open **{label}** in the sidebar.")


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
url = database()
try:
    version = data_version()
    values = load_filter_values(url, version)
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

span = date_range("usage", values.first_day, values.last_day)
who = actor()  # a project-scoped viewer's figures, totals included, cover their projects only
if who.projects is not None:
    st.caption(f"You see the projects {escape_markdown(', '.join(sorted(who.projects)))} only.")
with st.form("usage_filters", border=False):
    c_projects, c_models, c_status, c_apply = st.columns(
        [2, 2, 1.2, 1.3], vertical_alignment="bottom"
    )
    projects = c_projects.multiselect("Projects", [p for p in values.projects if who.sees(p)],
                                      key="usage_projects",
                                      format_func=lambda p: p or charts.NONE_LABEL,
                                      placeholder="All projects")  # fmt: skip
    models = c_models.multiselect("Models", values.models, key="usage_models",
                                  placeholder="All models", help="Price-book models: each "
                                  "includes every name it was logged under.")  # fmt: skip
    statuses = c_status.multiselect("Status", values.statuses, key="usage_statuses",
                                    placeholder="All")  # fmt: skip
    group_by = c_apply.selectbox("Group by", dimensions.GROUPS, key="usage_group_by",
                                 format_func=dimensions.group_label)  # fmt: skip
    chosen = dimensions.filter_row(values)
    st.form_submit_button("Apply", type="primary", key="usage_apply")

filters = queries.UsageFilters(
    span.start, span.end, who.scope(projects), tuple(models), tuple(statuses), **chosen
)
conversion = display_conversion(span.end)  # one rate for the page: the range's last day
view = sections.UsageView(url, version, filters, span, group_by, conversion)
st.caption(f"{span.text} (UTC) · compared with {span.previous_text} · data up to "
           f"{values.last_day:%d %b %Y}")  # fmt: skip
sections.kpi_cards(view)
rate_caption(conversion)
sections.unpriced_warning(view)

tabs = st.tabs(list(sections.DRAW), key=drilldown.SECTION_KEY, bind="query-params")
for tab, draw in zip(tabs, sections.DRAW.values(), strict=True):
    if tab.open:  # only the open section is computed and drawn
        with tab:
            draw(view)

openai_section()
