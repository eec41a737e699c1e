"""Costdesk: plan, watch and cut what a team spends on LLM APIs."""

from urllib.parse import urlparse

import streamlit as st

from ui.auth import can, gate, sidebar
from ui.demo import demo_banner
from ui.resources import engine, settle_heap

st.set_page_config(page_title="Costdesk", page_icon="💸", layout="wide")

USAGE_DEEP_LINK = urlparse(st.context.url or "").path.rstrip("/").endswith("/usage")

# Pages live in views/, not pages/: a folder named pages/ makes a fresh server run a
# deep-linked page on its own (legacy multipage mode), skipping this entry script.
SECTIONS = {
    "Plan": [
        st.Page(
            "views/calculator.py",
            title="Cost calculator",
            icon=":material/calculate:",
            url_path="calculator",
        ),
    ],
    "Monitor": [
        st.Page(
            "views/usage.py",
            title="Usage",
            icon=":material/monitoring:",
            url_path="usage",
            default=not USAGE_DEEP_LINK,
        ),
        # Streamlit serves the default page at "/" only; on a deep link to /usage this hidden
        # twin takes the default role, so /usage resolves to the visible Usage page.
        st.Page(
            "views/usage.py",
            title="Usage",
            url_path="home",
            default=USAGE_DEEP_LINK,
            visibility="hidden",
        ),
        st.Page(
            "views/reconcile.py",
            title="Reconciliation",
            icon=":material/balance:",
            url_path="reconcile",
        ),
        st.Page(
            "views/budgets.py",
            title="Budgets & alerts",
            icon=":material/savings:",
            url_path="budgets",
        ),
        st.Page(
            "views/chargeback.py",
            title="Chargeback",
            icon=":material/receipt_long:",
            url_path="chargeback",
        ),
        st.Page(
            "views/upload.py", title="Upload logs", icon=":material/upload_file:", url_path="upload"
        ),
    ],
    "Optimize": [
        st.Page(
            "views/routing.py",
            title="Routing simulator",
            icon=":material/alt_route:",
            url_path="routing",
        ),
    ],
    "Settings": [
        st.Page(
            "views/price_book.py", title="Price book", icon=":material/sell:", url_path="prices"
        ),
        st.Page(
            "views/currency.py",
            title="Exchange rates",
            icon=":material/currency_exchange:",
            url_path="currency",
        ),
    ],
}

engine()  # creates and migrates the database on first use
# In team mode nobody gets past this line without signing in with a role: no page runs and no
# figure reaches the browser.
acting = gate()
if acting.projects is not None:  # project-scoped: only pages that honour the scope
    SECTIONS = {"Plan": SECTIONS["Plan"], "Monitor": SECTIONS["Monitor"][:2]}
elif can("audit.read"):
    SECTIONS["Settings"].append(
        st.Page("views/audit.py", title="Audit trail", icon=":material/history:", url_path="audit")
    )
navigation = st.navigation({name: pages for name, pages in SECTIONS.items() if pages})
st.sidebar.caption("Costdesk · prices from the genai-prices snapshot · costs exact to the cent")
sidebar(acting)
demo_banner()
navigation.run()
settle_heap()  # once per server process, after its first page
