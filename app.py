"""DAFX Explorer: ``streamlit run app.py``. Routes to the pages, then warms the audio stack.

The warm-up (pandas' and torch's imports, filter banks, the first STFT: seconds of CPU) starts once the page has
run, so that it does not hold up the first page drawn (Home within 2 s of the server answering)."""

import streamlit as st

from dafx_explorer import home

home_page = st.Page("app_pages/0_Home.py", title="Home", icon=":material/home:", default=True)
pages = [st.Page(script, title=title, icon=icon, url_path=title.replace(" ", "_"))
         for script, title, icon, _ in home.PAGES]
st.navigation([home_page, *pages]).run()
home.warm_up()
