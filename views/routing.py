"""Routing simulator: what a routing change would save on real traffic, and plan vs actual."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from core.periods import span_text
from core.routing import (
    INPUT_CUTS,
    Rule,
    RuleError,
    cut_points,
    export_frame,
    match_labels,
    model_choices,
    parse_rule,
    plan_vs_actual,
    routing_problem,
    rule_from_form,
    simulate,
    spend_order,
    suggest,
    target_choices,
    traffic_from_plan,
)
from db.engine import database_url, make_engine
from db.scenarios import list_scenarios, load_scenario
from db.traffic import grouped_traffic, rule_name_problem, traffic_options, traffic_span
from ui.auth import can
from ui.charts import draw
from ui.charts.routing import (
    before_after_chart,
    model_columns,
    models_display,
    rule_columns,
    rule_display,
    suggestion_columns,
    suggestion_display,
    waterfall_chart,
)
from ui.currency import display_conversion, money, rate_caption
from ui.dates import date_range
from ui.exports import csv_bytes
from ui.format import counts_text, escape_markdown, names_text, share, usd
from ui.prices_text import prices_as_of, prices_help
from ui.resources import config, engine, price_book
from ui.saving import save_asking
from ui.shortlist import choice_label, shortlist_editor, shortlist_ids

ANY = "Any"
KEEP = "(keep the model)"
RULES = "routing_rules"
EXAMPLE = "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05"
HELP = {
    "project": "Only requests logged under this project.",
    "feature": "Only requests with this feature, or with this tag among comma-separated tags.",
    "status": "ok: HTTP status below 400; error: 400 and above; or one code, such as 429.",
    "min_in": "Only requests whose prompt has at least this many input tokens (0: no limit).",
    "max_in": "Only requests whose prompt has at most this many input tokens (0: no limit). "
    "Short prompts are the usual candidates for a smaller model.",
    "min_out": "Only requests whose answer has at least this many output tokens (0: no limit).",
    "max_out": "Only requests whose answer has at most this many output tokens (0: no limit).",
    "target": "The cheaper chat model to send the requests to. Your shortlist comes first "
    "(★), then the source's smaller siblings, then models already in your traffic.",
    "share": "Share of the matched requests sent to the target; the rest stay where they are.",
    "escalation": "Share of routed calls that fail on the cheaper model and are re-run on the "
    "original model, so both calls are paid.",
    "batch": "Share of the matched real-time requests sent through the provider's Batch API "
    "instead: half price at OpenAI, Anthropic and Google, answers within 24 hours.",
    "cache": "Raise the share of input tokens read from the prompt cache by this many "
    "percentage points (20 turns 30 % into 50 %). Cached tokens cost a fraction of the price.",
}


@dataclass
class Source:
    """The traffic being simulated: a loader taking token cut points (and the labels the
    rules match on, `match_labels`), and its period."""

    load: Callable[..., pd.DataFrame] | None = None
    period_days: int = 30
    when: date | None = None
    models: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)


@st.cache_data(ttl=120, max_entries=8, show_spinner=False)
def _span(url: str) -> tuple[date | None, date | None]:
    return traffic_span(make_engine(url))


@st.cache_data(ttl=120, max_entries=16, show_spinner=False)
def _options(url: str, start: date, end: date) -> dict[str, list[str]]:
    return traffic_options(make_engine(url), start, end)


@st.cache_data(ttl=300, max_entries=32, show_spinner="Grouping the logged traffic…")
def _traffic(
    url: str, start: date, end: date, filters: tuple, cuts: tuple, labels: tuple = ()
) -> pd.DataFrame:
    models, projects, features = filters
    return grouped_traffic(
        make_engine(url),
        start,
        end,
        models=models,
        projects=projects,
        features=features,
        input_cuts=cuts[0],
        output_cuts=cuts[1],
        labels=labels,
    )


def _sentence(text: object) -> str:
    """`text` escaped for Markdown, ending in a full stop unless it ends in `?` or `.` already."""
    text = str(text)
    return escape_markdown(text if text.endswith(("?", ".")) else f"{text}.")


def _days(count: int) -> str:
    """`1 day`, `30 days`."""
    return f"{count:,} day" + ("" if count == 1 else "s")


def _move(index: int, step: int) -> None:
    rules = st.session_state[RULES]
    other = index + step
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]


def _remove(index: int) -> None:
    st.session_state[RULES].pop(index)


def _add(rule: Rule, when: date | None) -> None:
    """Append a rule whose model and target name something known and that can route;
    RuleError otherwise."""
    if rule.to_dict() in st.session_state[RULES]:
        raise RuleError("that rule is already in the list")
    book = price_book()
    problem = rule_name_problem(engine(), rule, book, when) or routing_problem(rule, book, when)
    if problem is not None:
        raise RuleError(problem)
    st.session_state[RULES].append(rule.to_dict())
    st.rerun()


def _logged_source(url: str, first: date, last: date) -> Source:
    """Date range (presets or custom days) and filters over the logged traffic."""
    span = date_range("routing", first, last, label="Days (UTC)")
    start, end = max(span.start, first), span.end  # a period counts only days with logs
    if end < start:
        st.info(
            f"No requests were logged in {span.text}: the logs cover "
            f"{span_text(first, last)}. Pick other days."
        )
        return Source()
    st.caption(f"Simulating {span_text(start, end)}: {_days((end - start).days + 1)} of logs.")
    options = _options(url, start, end)
    with st.expander("Filters", expanded=False):
        c1, c2, c3 = st.columns(3)
        filters = {
            "models": c1.multiselect("Models", options["models"], key="routing_f_models"),
            "projects": c2.multiselect("Projects", options["projects"], key="routing_f_projects"),
            "features": c3.multiselect(
                "Features / tags", options["features"], key="routing_f_features"
            ),
        }
    key = tuple(tuple(filters[k]) for k in ("models", "projects", "features"))
    return Source(
        load=lambda cuts, labels=(): _traffic(url, start, end, key, cuts, labels),
        period_days=(end - start).days + 1,
        when=end,
        models=options["models"],
        filters=filters,
    )


def _plan_source(plans: list) -> Source:
    """One month of a saved calculator plan."""
    name = st.selectbox("Saved plan", [p.name for p in plans], key="routing_plan")
    params = next(p.params for p in plans if p.name == name)
    try:
        frame, days, when = traffic_from_plan(params)
    except ValueError as exc:
        st.error(f"This saved plan cannot be simulated: {_sentence(exc)}")
        return Source()
    model = escape_markdown(params["model"])
    st.caption(f"One month of the plan: {frame['requests'].sum():,} requests on {model}.")
    return Source(lambda _cuts, _labels=(): frame, days, when, frame["model"].unique().tolist())


def _source(url: str, first: date | None, last: date | None) -> Source:
    """The traffic source picker with its empty states."""
    kind = st.radio(
        "Traffic",
        ["Logged traffic", "Saved plan"],
        horizontal=True,
        key="routing_source",
        help="Logged traffic comes from ingested request logs; a saved plan from the calculator.",
    )
    if kind == "Saved plan":
        plans = list_scenarios(engine(), kind="plan")
        if plans:
            return _plan_source(plans)
        st.info("No saved plans yet. Save one on the Cost calculator page, then come back.")
        st.page_link("views/calculator.py", label="Cost calculator", icon=":material/calculate:")
        return Source()
    if first is None or last is None:
        st.info(
            "No logged traffic yet. Upload a request log, run `python cli.py ingest FILE` or "
            "load demo data with `python cli.py demo`, or switch to **Saved plan** above."
        )
        st.page_link("views/upload.py", label="Upload logs", icon=":material/upload_file:")
        return Source()
    return _logged_source(url, first, last)


def _rule_list() -> list[Rule]:
    """The ordered rules with move and remove buttons; unreadable saved rules are dropped."""
    for data in list(st.session_state[RULES]):
        try:
            Rule.from_dict(data)
        except RuleError as exc:
            st.session_state[RULES].remove(data)
            st.warning(f"A saved rule was dropped: {_sentence(exc)}")
    rules = [Rule.from_dict(d) for d in st.session_state[RULES]]
    for index, rule in enumerate(rules):
        c0, c1, c2, c3 = st.columns([12, 1, 1, 1], vertical_alignment="center")
        c0.markdown(f"**{index + 1}.** {escape_markdown(rule.label())}")
        up, down = f"routing_up_{index}", f"routing_down_{index}"
        c1.button("↑", key=up, on_click=_move, args=(index, -1), disabled=index == 0)
        c2.button("↓", key=down, on_click=_move, args=(index, 1), disabled=index == len(rules) - 1)
        c3.button("✕", key=f"routing_remove_{index}", on_click=_remove, args=(index,))
    if not rules:
        st.caption(
            "No rules yet. Add one below: pick the model to move traffic from, e.g. gpt-4o "
            "under 2,000 input tokens → gpt-4o-mini, 67 % of it, 5 % escalation."
        )
    return rules


def _choices(model: str | None, when: date | None, in_traffic: list[str]) -> list:
    """Route-to choices for traffic now on `model`, best first."""
    return target_choices(
        price_book(),
        when,
        sources=[model] if model else [],
        shortlist=shortlist_ids(),
        in_traffic=in_traffic,
    )


def _pick_target(when: date | None, in_traffic: list[str]) -> None:
    """On a new source model, preselect its best target (its smaller sibling, say)."""
    model = st.session_state.get("routing_new_model")
    choices = _choices(model, when, in_traffic)
    st.session_state["routing_new_target"] = choices[0].item if model and choices else KEEP


def _source_model(models: list[str], when: date | None, in_traffic: list[str]) -> str | None:
    """The model a new rule takes traffic from (a rule that routes must name one)."""
    return st.selectbox(
        "Move traffic from",
        models,
        index=None,
        key="routing_new_model",
        placeholder="Choose a model from this traffic",
        on_change=_pick_target,
        args=(when, in_traffic),
        help="The model whose requests the rule takes. Every name it was logged under counts "
        "(gpt-4o-2024-08-06 is gpt-4o). A rule that routes needs one, so it can never move "
        "other models' traffic (embeddings, say) by accident.",
    )


def _match_inputs() -> tuple[str, str, str, tuple[int, int, int, int]]:
    """Project, feature, status and the four token bounds of a new rule."""
    m = st.columns(3)
    project = m[0].text_input(
        "Project", key="routing_new_project", placeholder="any", help=HELP["project"]
    )
    feature = m[1].text_input(
        "Feature / tag", key="routing_new_feature", placeholder="any", help=HELP["feature"]
    )
    status = m[2].selectbox(
        "Status", [ANY, "ok", "error", "429"], key="routing_new_status", help=HELP["status"]
    )
    t = st.columns(4)
    tokens = (
        t[0].number_input(
            "Min input tokens", 0, step=100, key="routing_new_min_in", help=HELP["min_in"]
        ),
        t[1].number_input(
            "Max input tokens",
            0,
            value=2000,
            step=100,
            key="routing_new_max_in",
            help=HELP["max_in"],
        ),
        t[2].number_input(
            "Min output tokens", 0, step=100, key="routing_new_min_out", help=HELP["min_out"]
        ),
        t[3].number_input(
            "Max output tokens", 0, step=100, key="routing_new_max_out", help=HELP["max_out"]
        ),
    )
    return project, feature, "" if status == ANY else status, tokens


def _rule_form(models: list[str], when: date | None, in_traffic: list[str]) -> None:
    """The source model, then a form with the conditions and actions of a new rule."""
    model = _source_model(models, when, in_traffic)
    labels = {c.item: choice_label(c.item, c.reason) for c in _choices(model, when, in_traffic)}
    if st.session_state.get("routing_new_target") not in (KEEP, *labels):
        st.session_state["routing_new_target"] = KEEP
    with st.form("routing_add", border=False):
        st.markdown("**Match** (leave *any* or 0 for no condition)")
        project, feature, status, tokens = _match_inputs()
        st.markdown("**Action**")
        a = st.columns([2, 1, 1, 1, 1])
        target = a[0].selectbox(
            "Route to",
            [KEEP, *labels],
            format_func=lambda m: labels.get(m, m),
            key="routing_new_target",
            help=HELP["target"],
        )
        share_pct = a[1].number_input(
            "Share moved %", 0.0, 100.0, 67.0, key="routing_new_share", help=HELP["share"]
        )
        escalation_pct = a[2].number_input(
            "Escalation %", 0.0, 100.0, 5.0, key="routing_new_escalation", help=HELP["escalation"]
        )
        batch_pct = a[3].number_input(
            "To Batch API %", 0.0, 100.0, 0.0, key="routing_new_batch", help=HELP["batch"]
        )
        cache_points = a[4].number_input(
            "Cache hits +pts", 0.0, 100.0, 0.0, key="routing_new_cache", help=HELP["cache"]
        )
        submitted = st.form_submit_button("Add rule", type="primary")
    if submitted:
        try:
            _add(
                rule_from_form(
                    model=model or "",
                    project=project,
                    feature=feature,
                    status=status,
                    tokens=tokens,
                    target="" if target == KEEP else target,
                    share_pct=share_pct,
                    escalation_pct=escalation_pct,
                    batch_pct=batch_pct,
                    cache_points=cache_points,
                ),
                when,
            )
        except RuleError as exc:
            st.error(f"Rule not added: {_sentence(exc)}")


def _typed_rule(when: date | None) -> None:
    """A one-line rule in the CLI's syntax."""
    with st.form("routing_paste", border=False, clear_on_submit=True):
        p1, p2 = st.columns([4, 1], vertical_alignment="bottom")
        spec = p1.text_input("Or type a rule", key="routing_spec", placeholder=EXAMPLE)
        pasted = p2.form_submit_button("Add typed rule")
    if pasted and spec.strip():
        try:
            _add(parse_rule(spec), when)
        except RuleError as exc:
            st.error(f"Rule not added: {_sentence(exc)}")


def _save_and_export(result: object, source: Source) -> None:
    """Save the rules as a scenario (asking before replacing one), download the results."""
    e1, e2, e3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = e1.text_input(
        "Save this simulation as",
        key="routing_save_name",
        placeholder="e.g. mini for short prompts",
    )
    params = {
        "days": source.period_days,
        "filters": source.filters,
        "rules": st.session_state[RULES],
    }
    clicked = e2.button("Save", key="routing_save", disabled=not can("routing.save"))
    csv = csv_bytes(export_frame(result))
    e3.download_button("Download CSV", csv, "routing-simulation.csv", "text/csv", key="routing_csv")
    saved = save_asking("routing_save", name=name, params=params, kind="routing", clicked=clicked)
    if saved is not None:
        st.session_state["routing_flash"] = f"Saved simulation “{escape_markdown(saved.name)}”."
        st.rerun()


def _load_saved() -> None:
    """Load the rules of a saved simulation."""
    saved = list_scenarios(engine(), kind="routing")
    if not saved:
        return
    l1, l2 = st.columns([3, 1], vertical_alignment="bottom")
    chosen = l1.selectbox("Saved simulations", [s.name for s in saved], key="routing_load_name")
    if l2.button("Load rules", key="routing_load"):
        found = load_scenario(engine(), chosen, kind="routing")
        st.session_state[RULES] = list(found.params.get("rules", [])) if found else []
        st.rerun()


def _simulation(source: Source, rules: list[Rule]) -> None:
    """Baseline vs scenario metrics, per-rule table, per-model before/after."""
    book = price_book()
    try:
        traffic = source.load(cut_points(rules, book, source.when), match_labels(rules))
        result = simulate(traffic, rules, book, when=source.when, period_days=source.period_days)
    except RuleError as exc:
        st.error(f"{_sentence(exc)} Edit or remove that rule.")
        return
    if result.requests == 0:
        st.info("No priced requests on these days with these filters. Widen the range.")
    priced = prices_as_of(source.when) if source.when else "today's prices"
    conv = display_conversion(source.when or datetime.now(UTC).date())  # the period's end
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        f"Baseline ({_days(source.period_days)})",
        money(result.baseline_usd, conv),
        help=f"What this traffic costs as logged, at {priced}. {prices_help()}",
    )
    c2.metric(
        "With the rules", money(result.scenario_usd, conv), help="The same traffic after the rules."
    )
    saved_share = result.savings_share if rules else None
    saved = money(result.savings_usd, conv)
    c3.metric("Savings", saved, delta=share(saved_share) if saved_share else None)
    c4.metric(
        "Savings per month",
        money(result.monthly(result.savings_usd), conv),
        help=f"The period's savings scaled to a 30-day month. Costs at {priced}.",
    )
    rate_caption(conv)
    if result.unpriced:
        left_out = counts_text(result.unpriced, "requests")
        st.warning(
            f"Left out, not in the price book: {left_out}. Add a custom price to count them."
        )
    if rules:
        table = result.rule_table()
        if blocked := int(table["requests_blocked"].sum()):
            st.warning(
                f"{blocked:,} matched requests cannot move: their prompts are larger than the "
                "target model's context window, so they stay on their model."
            )
        st.dataframe(rule_display(table), hide_index=True, column_config=rule_columns())
        draw(before_after_chart(result.models), key="routing_models_chart")
        st.dataframe(models_display(result.models), hide_index=True, column_config=model_columns())
        _save_and_export(result, source)
    _load_saved()


def _suggestions(source: Source, in_traffic: list[str]) -> None:
    """Share of premium traffic under N input tokens and what moving it would save."""
    book = price_book()
    st.caption(
        "How much premium-model traffic is small enough for a cheaper model, and what moving "
        "all of it would save (no escalation). Premium models are those dearer than the model "
        "you pick."
    )
    dearest = spend_order(source.load(cut_points([], book, source.when)), book, source.when)
    choices = target_choices(
        book, source.when, sources=dearest, shortlist=shortlist_ids(), in_traffic=in_traffic
    )
    labels = {c.item: choice_label(c.item, c.reason) for c in choices}
    s1, s2 = st.columns(2)
    threshold = s1.selectbox(
        "Prompts under (input tokens)",
        INPUT_CUTS,
        index=3,
        key="routing_sug_tokens",
        format_func="{:,}".format,
    )
    cheap = s2.selectbox(
        "Cheaper model",
        list(labels),
        format_func=labels.get,
        key="routing_sug_target",
        help="Chat models only, your shortlist first (★), then smaller siblings of the models "
        "that cost you most, then models already in your traffic.",
    )
    _suggestion_result(source, cheap, threshold)
    shortlist_editor("routing", list(labels))


def _suggestion_result(source: Source, cheap: str, threshold: int) -> None:
    """The savings of moving premium traffic under `threshold` tokens to `cheap`."""
    book = price_book()
    probe = Rule(max_input_tokens=threshold, target=cheap, share=1)
    traffic = source.load(cut_points([probe], book, source.when))
    found = suggest(
        traffic,
        book,
        target=cheap,
        max_input_tokens=threshold,
        when=source.when,
        period_days=source.period_days,
    )
    if found.premium_requests == 0:
        st.info(f"No traffic on models dearer than {escape_markdown(cheap)} in this period.")
        return
    k1, k2 = st.columns(2)
    k1.metric(
        f"Premium traffic under {threshold:,} tokens",
        share(found.share_under),
        help=f"{found.requests_under:,} of {found.premium_requests:,} requests",
    )
    k2.metric("Savings per month if moved", usd(found.monthly_savings_usd))
    columns = suggestion_columns(threshold, source.period_days)
    st.dataframe(suggestion_display(found.table), hide_index=True, column_config=columns)


def _plan_vs_actual(url: str, first: date | None, last: date | None) -> None:
    """A saved plan against a month of logs, split into four effects, as a waterfall."""
    plans = list_scenarios(engine(), kind="plan")
    if not plans or first is None or last is None:
        st.info("Plan vs actual needs a saved plan (Cost calculator page) and logged traffic.")
        return
    months = pd.period_range(first, last, freq="M").astype(str).tolist()[::-1]
    v1, v2 = st.columns(2)
    plan_name = v1.selectbox("Plan", [p.name for p in plans], key="routing_var_plan")
    period = pd.Period(v2.selectbox("Month of logs", months, key="routing_var_month"), freq="M")
    month_start, month_end = period.start_time.date(), period.end_time.date()
    if first > month_start or last < month_end:
        st.caption(
            f"Logs cover {max(first, month_start)} to {min(last, month_end)} of this month: "
            "a partial month is compared with the whole planned month."
        )
    try:
        plan, _, plan_when = traffic_from_plan(next(p.params for p in plans if p.name == plan_name))
        actual = _traffic(url, month_start, month_end, ((), (), ()), (INPUT_CUTS, ()))
        variance = plan_vs_actual(plan, actual, price_book(), plan_when=plan_when or month_start)
    except ValueError as exc:
        st.error(f"Cannot compare: {_sentence(exc)}")
        return
    w1, w2, w3 = st.columns(3)
    w1.metric("Plan", usd(variance.plan_usd), help=f"{variance.plan_requests:,} requests")
    w2.metric("Actual", usd(variance.actual_usd), help=f"{variance.actual_requests:,} requests")
    w3.metric("Actual minus plan", usd(variance.difference_usd))
    draw(waterfall_chart(variance.table()), key="routing_waterfall")
    st.caption(
        "Volume: more or fewer requests than planned. Tokens per request: bigger or smaller "
        "calls (and cache hits). Model mix: which models, and how much went to the Batch API. "
        "Price: what was charged vs the plan's prices. The four add up exactly to the difference."
    )
    if variance.unpriced:
        st.warning(f"Not in the price book: {names_text(variance.unpriced)}.")


st.title("Routing simulator")
st.caption(
    "Test a routing change on your own traffic before touching production: send a share of "
    "premium-model calls to a cheaper model, batch latency-tolerant work, cache more. Rules run "
    "in order and the first match wins."
)
url = database_url(config("COSTDESK_DATABASE_URL"))
st.session_state.setdefault(RULES, [])
if flash := st.session_state.pop("routing_flash", None):
    st.success(flash)
first, last = _span(url)
source = _source(url, first, last)

st.subheader("Rules")
rules = _rule_list()
in_traffic = model_choices(source.models, price_book())
with st.expander("Add a rule", expanded=True):
    _rule_form(in_traffic, source.when, in_traffic)
    _typed_rule(source.when)

if source.load is not None:
    st.divider()
    views = ["Simulation", "Suggestions", "Plan vs actual"]
    view = st.radio(
        "Show", views, horizontal=True, key="routing_view", label_visibility="collapsed"
    )
    if view == "Simulation":
        _simulation(source, rules)
    elif view == "Suggestions":
        _suggestions(source, in_traffic)
    else:
        _plan_vs_actual(url, first, last)
