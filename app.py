"""Costdesk: plan, watch and cut what a team spends on LLM APIs."""

import streamlit as st

from ui.resources import engine

st.set_page_config(page_title="Costdesk", page_icon="💸", layout="wide")

# Pages live in views/, not pages/: a folder named pages/ makes a fresh server run a
# deep-linked page on its own (legacy multipage mode), skipping this entry script.
SECTIONS = {
    "Plan": [],
    "Monitor": [],
    "Optimize": [],
    "Settings": [
        st.Page(
            "views/price_book.py", title="Price book", icon=":material/sell:", url_path="prices"
        ),
    ],
}

engine()  # creates and migrates the database on first use
navigation = st.navigation({name: pages for name, pages in SECTIONS.items() if pages})
st.sidebar.caption("Costdesk · prices from the genai-prices snapshot · costs exact to the cent")
navigation.run()
