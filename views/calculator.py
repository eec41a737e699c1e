"""Cost calculator: plan a workload, see what drives its cost, compare and share scenarios."""

from datetime import UTC, datetime

import streamlit as st

from core.plans import (
    Conversation,
    PlanError,
    analyse,
    comparison_frame,
    compression_saving,
    conversation_costs,
    conversation_frames,
    projection_frame,
    rates_for,
    switch_frame,
    tornado_frame,
)
from core.pricing import Unpriced
from core.tokens import TokenizerUnavailable, count_prompt_tokens, count_tokens, is_estimate
from ui import format as fmt
from ui.charts import draw
from ui.charts import plans as charts
from ui.currency import display_conversion, money, rate_caption
from ui.plans_resources import (
    analysis_options,
    column_config,
    for_display,
    mirror_to_url,
    model_label,
    model_options,
    rate_matrix,
    restore_state,
    small_usd,
    tokenizer_folder,
    tornado_labels,
    workload_from_state,
)
from ui.plans_scenarios import scenarios_tab
from ui.prices_text import exact_usd, prices_as_of, prices_help
from ui.resources import price_book
from ui.shortlist import shortlist_editor, shortlist_ids, traffic_model_ids

COLUMNS = column_config()

st.title("Cost calculator")
st.caption(
    "Plan what an LLM feature will cost before launch: set the traffic you expect, see the "
    "monthly bill, which assumption moves it most, and hand a link or a spreadsheet to a colleague."
)
book = price_book()
today = datetime.now(UTC).date()
options = model_options(rate_matrix(book, today))
unreadable = restore_state(options, book, today)
if unreadable:
    st.warning(f"Ignored unreadable link values: {', '.join(unreadable)}. Defaults are shown.")
if flash := st.session_state.pop("calc_flash", None):
    st.success(flash)


def _tokens_ready() -> bool:
    try:
        tokenizer_folder()
    except OSError as exc:
        reason = fmt.escape_markdown(exc)
        st.warning(f"Token counting is unavailable: {reason}. Enter token counts by hand.")
        return False
    return True


def _use_counted(count: int) -> None:
    st.session_state["calc_in"] = count


# --- inputs -----------------------------------------------------------------------------------
with st.container(border=True):
    c = st.columns([2.6, 1.3, 1.4, 1.4, 1.3])
    c[0].selectbox(
        "Model",
        options,
        key="calc_model",
        format_func=model_label,
        help="Every priced model, grouped by provider. Type to search.",
    )
    c[1].number_input("Requests per day", min_value=0, step=100, key="calc_rpd")
    c[2].number_input(
        "Avg input tokens",
        min_value=0,
        step=100,
        key="calc_in",
        help="System prompt + context + user message, per request.",
    )
    c[3].number_input(
        "Avg output tokens",
        min_value=0,
        step=50,
        key="calc_out",
        help="Includes reasoning tokens for reasoning models.",
    )
    c[4].number_input(
        "max_tokens cap",
        min_value=0,
        step=50,
        key="calc_max",
        help="Bounds the output per request; 0 means no cap.",
    )
    c = st.columns([1.3, 1.1, 1.2, 1.1, 1.1, 1.4])
    c[0].number_input(
        "Cache-hit share %",
        0.0,
        100.0,
        step=5.0,
        key="calc_cache",
        help="Share of input tokens served from the prompt cache.",
    )
    c[1].number_input(
        "Batch share %",
        0.0,
        100.0,
        step=5.0,
        key="calc_batch",
        help="Share of requests sent through the Batch API.",
    )
    c[2].number_input("Monthly growth %", -99.0, 1000.0, step=1.0, key="calc_growth")
    c[3].number_input("Days per month", 1, 31, key="calc_days")
    c[4].number_input("Horizon (months)", 1, 120, key="calc_months")
    c[5].date_input(
        "Prices on",
        key="calc_date",
        help="Price the plan with the prices in force on this date (scheduled price changes "
        "included).",
    )
    with st.expander("Count input tokens from a prompt (offline, nothing is stored)"):
        model_name = st.session_state["calc_model"].partition("/")[2]
        t1, t2 = st.columns(2)
        system = t1.text_area("System prompt", key="calc_tok_system", height=140)
        user = t2.text_area("Typical user message", key="calc_tok_user", height=140)
        if (system or user) and _tokens_ready():
            counted = count_prompt_tokens(system, user, model_name)
            st.metric("Input tokens per request", f"{counted:,}")
            if is_estimate(model_name):
                st.caption("Counted with OpenAI's o200k tokenizer: an estimate for this model.")
            st.button(
                "Use as average input tokens",
                key="calc_tok_use",
                on_click=_use_counted,
                args=(counted,),
            )
        else:
            st.caption("Paste a system prompt and a typical user message to count their tokens.")

mirror_to_url()
try:
    workload = workload_from_state()
except PlanError as exc:
    st.error(f"{fmt.escape_markdown(exc)} Adjust the inputs above.")
    st.stop()
rates = rates_for(book, st.session_state["calc_model"], workload.pricing_date)
if isinstance(rates, Unpriced):
    st.error(
        f"{fmt.escape_markdown(rates.model)} has no price on {workload.pricing_date}: "
        f"{fmt.escape_markdown(rates.reason)}. "
        "Pick a later date or another model, or add a custom price in Settings › Price book."
    )
    st.stop()
s = st.session_state
analysis = analyse(
    workload,
    rates,
    rate_matrix(book, workload.pricing_date),
    shortlist=shortlist_ids(),
    in_traffic=traffic_model_ids(),
    **analysis_options(),
)
plan = analysis.plan

# --- headline ---------------------------------------------------------------------------------
conv = display_conversion(today)  # a plan is priced now: today's rate
per_request = (
    money(plan.cost_per_request_usd, conv, places=2)
    if conv.converted
    else small_usd(plan.cost_per_request_usd)
)
m = st.columns([1.3, 1, 1, 1, 1.2])
m[0].metric("Per request", per_request)
m[1].metric("Per 1,000 requests", money(plan.per_1k_requests_usd, conv))
m[2].metric("Per day", money(plan.daily_usd, conv))
m[3].metric("Per month", money(plan.monthly_usd, conv))
m[4].metric("Per year", money(plan.yearly_usd, conv), help="Twelve months at this month's volume.")
rate_caption(conv)
monthly = plan.monthly
model_text = fmt.escape_markdown(rates.model)
st.caption(
    f"{fmt.escape_markdown(rates.provider)} · {model_text} at "
    f"{fmt.escape_markdown(exact_usd(rates.input_mtok))} in / "
    f"{fmt.escape_markdown(exact_usd(rates.output_mtok))} out per 1M tokens "
    f"({prices_as_of(workload.pricing_date or today)}). "
    f"Each month: uncached input {fmt.usd(monthly.uncached_input_usd)}, "
    f"cached input {fmt.usd(monthly.cached_input_usd)}, output {fmt.usd(monthly.output_usd)}.",
    help=prices_help(rates),
)
if workload.requests_per_day == 0:
    st.info("Enter the requests per day you expect to see the bill.")
elif plan.fits_context is False:
    st.warning(
        f"{workload.reserved_tokens:,} tokens (input + output cap) exceed {model_text}'s "
        f"context window of {rates.context_window:,} tokens: requests would be rejected."
    )
draw(charts.split_chart(vars(monthly)), key="calc_split_chart")


def _projection_tab() -> None:
    """Projection tab."""
    months = projection_frame(analysis.projection)
    last = analysis.projection[-1]
    st.markdown(
        f"At {fmt.share(workload.growth_monthly_share)} growth a month, month {last.month} costs "
        f"**{fmt.usd(last.monthly_usd)}** and the {last.month} months total "
        f"**{fmt.usd(last.cumulative_usd)}**."
    )
    draw(charts.projection_chart(months), key="calc_projection_chart")
    st.dataframe(
        for_display(months),
        hide_index=True,
        width="stretch",
        column_config=COLUMNS,
    )


def _models_tab() -> None:
    """Models tab."""
    models = comparison_frame(analysis.comparison, plan)
    too_small = int((models["fits_context"] == False).sum())  # noqa: E712
    st.markdown(
        f"The same workload on all **{len(models)}** priced chat models, cheapest first. "
        f"{too_small} cannot hold {workload.reserved_tokens:,} tokens (flagged, grey in the chart)."
    )
    f1, f2 = st.columns([3, 1])
    query = f1.text_input(
        "Search", key="calc_models_search", placeholder="e.g. claude, mini", bind="query-params"
    )
    only_fit = f2.checkbox("Only models that fit", key="calc_models_fit", bind="query-params")
    shown = (
        models[models["model"].str.contains(query.strip().lower(), regex=False)]
        if query
        else models
    )
    shown = shown[shown["fits_context"] != False] if only_fit else shown  # noqa: E712
    draw(charts.models_chart(shown), key="calc_models_chart")
    st.dataframe(
        for_display(shown),
        hide_index=True,
        width="stretch",
        height=420,
        column_config=COLUMNS,
    )


def _sensitivity_tab() -> None:
    """Sensitivity tab."""
    c = st.columns(2)
    c[0].number_input(
        "Move volume, tokens and prices by ± %", 1.0, 90.0, step=5.0, key="calc_swing"
    )
    c[1].number_input(
        "Move cache and batch shares by ± points", 1.0, 100.0, step=5.0, key="calc_share_swing"
    )
    bars = tornado_labels(tornado_frame(analysis.tornado))
    top = analysis.tornado[0]
    st.markdown(
        f"**{top.label}** moves the monthly cost most: from {fmt.usd(top.low_usd)} to "
        f"{fmt.usd(top.high_usd)} around {fmt.usd(top.base_usd)}."
    )
    draw(charts.tornado_chart(bars), key="calc_tornado_chart")
    st.markdown("**Monthly cost by requests per day and output tokens**")
    draw(charts.heatmap_chart(analysis.grid.frame()), key="calc_heatmap_chart")


WHY = {
    "shortlisted": "it is on your shortlist",
    "smaller sibling": "the same family's smaller model",
    "same family, smaller": "a smaller model of the same family",
    "in your traffic": "you already use it",
    "": "the cheapest",
}


def _fit_words(fits: bool | None) -> str:
    """Whether a request fits the model, in words (the price book may not know)."""
    if fits:
        return f"{workload.reserved_tokens:,} tokens fit its context window"
    return "check that it holds the request: the price book has no context window for it"


def _switch_section(switches: tuple) -> None:
    """Cheaper chat models in the order to try them, the first one in words."""
    st.markdown("#### What if we switch model?")
    usable = [sw for sw in switches if sw.fits_context is not False]
    if not usable:
        st.markdown(f"No priced chat model is cheaper than {model_text} for this workload.")
    else:
        lead = usable[0]
        words = (
            f"{len(usable)} chat models would cost less. Try **{fmt.escape_markdown(lead.provider)}"
            f" · {fmt.escape_markdown(lead.model)}** first ({WHY.get(lead.reason, '')}): "
            f"{fmt.usd(lead.monthly_usd)} a month, {fmt.usd(lead.saving_usd)} "
            f"({fmt.share(lead.saving_share, 0)}) less; {_fit_words(lead.fits_context)}."
        )
        cheapest = min(usable, key=lambda sw: sw.monthly_usd)
        if cheapest is not lead:
            unknown = "" if cheapest.fits_context else " (context window unknown)"
            words += (
                f" The cheapest, {fmt.escape_markdown(cheapest.provider)} · "
                f"{fmt.escape_markdown(cheapest.model)}{unknown}, costs "
                f"{fmt.usd(cheapest.monthly_usd)}."
            )
        st.markdown(words + " Check quality on your own prompts before switching.")
        st.dataframe(
            for_display(switch_frame(switches)),
            hide_index=True,
            width="stretch",
            height=260,
            column_config=COLUMNS,
        )
    shortlist_editor("calc", [o.partition("/")[2] for o in options])


def _what_if_tab() -> None:
    """What if tab."""
    q = analysis.questions
    st.markdown("#### What if volume doubles?")
    st.markdown(
        f"At twice the requests the bill goes from {fmt.usd(q.monthly_usd)} to "
        f"**{fmt.usd(q.doubled_usd)}** a month: token prices have no volume discount, so cost "
        "grows in step with traffic."
    )
    _switch_section(q.switches)
    st.markdown("#### What does caching save?")
    c = st.columns(2)
    c[0].number_input("Cache-hit share to assume %", 0.0, 100.0, step=5.0, key="calc_cache_target")
    c[1].number_input("Engineering cost to build it ($)", 0.0, step=500.0, key="calc_eng")
    cr = q.caching
    payback = (
        "never: caching saves nothing on this model"
        if cr.payback_months is None
        else f"{cr.payback_months} months"
    )
    st.markdown(
        f"With {fmt.share(cr.cache_hit_share)} of input tokens from the cache the bill is "
        f"{fmt.usd(cr.monthly_with_usd)} instead of {fmt.usd(cr.monthly_without_usd)}: "
        f"**{fmt.usd(cr.saving_usd)} a month** ({fmt.share(cr.saving_share)}). "
        f"{fmt.usd(cr.engineering_cost_usd)} of engineering is repaid in **{payback}**."
    )
    st.markdown("#### When does batch beat real time?")
    st.number_input(
        "Monthly overhead of running batch jobs ($)", 0.0, step=50.0, key="calc_overhead"
    )
    bq = q.batch
    words = (
        f"All traffic on the Batch API would cost {fmt.usd(bq.monthly_full_batch_usd)} "
        f"instead of {fmt.usd(bq.monthly_realtime_usd)} "
        f"({fmt.share(bq.full_batch_saving_share, 0)} less). "
    )
    if bq.full_batch_saving_usd <= 0:
        words += "This model has no batch discount, so batch never beats real time on price."
    elif bq.overhead_monthly_usd == 0:
        words += (
            "With no extra overhead any batch share saves money; the trade-off is latency "
            "(results within 24 hours)."
        )
    else:
        share_text = (
            f"from a **{fmt.share(bq.break_even_share)}** batch share"
            if bq.break_even_share is not None
            else "at no batch share at this volume"
        )
        words += (
            f"Against {fmt.usd(bq.overhead_monthly_usd)} of monthly overhead, batch pays "
            f"{share_text}, or from **{bq.break_even_requests_per_day:,} requests a day** "
            f"at {fmt.share(bq.batch_share or 1, 0)} batched. Net at the plan: "
            f"{fmt.usd(bq.net_saving_usd)} a month."
        )
    st.markdown(words)


def _conversations_tab() -> None:
    """Conversations tab."""
    st.markdown("Multi-turn chats resend their history each turn. Compare three ways to keep it.")
    c = st.columns(4)
    c[0].number_input("Conversations per day", 0, step=50, key="calc_conv_per_day")
    c[1].number_input("Turns per conversation", 1, 200, key="calc_turns")
    c[2].number_input("System prompt tokens", 0, step=100, key="calc_sys")
    c[3].number_input("User tokens per turn", 0, step=10, key="calc_user")
    c = st.columns(4)
    c[0].number_input("Assistant tokens per turn", 0, step=50, key="calc_asst")
    c[1].number_input("Window: last K turns", 0, 200, key="calc_window")
    c[2].number_input("Summary size (tokens)", 0, step=50, key="calc_sum")
    c[3].number_input("Summarise every K turns", 1, 200, key="calc_every")
    conv = Conversation(
        s["calc_conv_per_day"],
        s["calc_turns"],
        s["calc_sys"],
        s["calc_user"],
        s["calc_asst"],
        s["calc_window"],
        s["calc_sum"],
        s["calc_every"],
    )
    strategies = conversation_costs(
        conv,
        rates,
        days_per_month=workload.days_per_month,
        cache_hit_share=workload.cache_hit_share,
    )
    table, turns = conversation_frames(strategies)
    cheapest = min(strategies, key=lambda sc: sc.monthly_usd)
    st.markdown(
        f"**{cheapest.label}** is cheapest at {fmt.usd(cheapest.monthly_usd)} a month "
        f"({fmt.usd(cheapest.per_conversation_usd)} per conversation); full history costs "
        f"{fmt.usd(strategies[0].monthly_usd)}. Summaries count their own calls."
    )
    st.dataframe(
        for_display(table),
        hide_index=True,
        width="stretch",
        column_config=COLUMNS,
    )
    draw(charts.conversation_chart(turns), key="calc_conversation_chart")


def _compression_tab() -> None:
    """Compression tab."""
    st.markdown(
        "Paste the current and the compressed system prompt: the saving is priced at the "
        "planned volume. Texts stay in this browser session and are never stored."
    )
    c = st.columns(2)
    current = c[0].text_area("Current system prompt", key="calc_cmp_current", height=180)
    compressed = c[1].text_area("Compressed system prompt", key="calc_cmp_compressed", height=180)
    if not current:
        st.info("Paste the current system prompt to see what a shorter one saves.")
    elif _tokens_ready():
        name = rates.model
        try:
            saving = compression_saving(
                workload, rates, count_tokens(current, name), count_tokens(compressed, name)
            )
        except (PlanError, TokenizerUnavailable) as exc:
            st.warning(fmt.escape_markdown(exc))
        else:
            c = st.columns(4)
            c[0].metric(
                "Prompt tokens", f"{saving.current_tokens:,} → {saving.compressed_tokens:,}"
            )
            c[1].metric("Saved per request", f"{saving.saved_tokens_per_request:,} tokens")
            c[2].metric("Tokens saved per month", fmt.tokens(saving.saved_tokens_per_month))
            c[3].metric("Dollars saved per month", fmt.usd(saving.saved_usd))


def _scenarios_tab() -> None:
    """Scenarios tab."""
    scenarios_tab(options, book, today)


TABS = {
    "Projection": _projection_tab,
    "All models": _models_tab,
    "Sensitivity": _sensitivity_tab,
    "What if": _what_if_tab,
    "Conversations": _conversations_tab,
    "Prompt compression": _compression_tab,
    "Scenarios": _scenarios_tab,
}
# Only the open tab runs (and its name is in the link), so hidden tabs cost nothing.
for tab, render in zip(
    st.tabs(list(TABS), key="calc_tab", bind="query-params"), TABS.values(), strict=True
):
    if tab.open is not False:
        with tab:
            render()
st.caption("This page's address holds every input: copy it to share exactly this view.")
