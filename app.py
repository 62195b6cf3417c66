"""DAFX Explorer: ``streamlit run app.py``. Warms the audio stack and routes to the pages."""

import streamlit as st

from dafx_explorer import ui

ui.warm_up()
home = st.Page("app_pages/0_Home.py", title="Home", icon=":material/home:", default=True)
pages = [st.Page(script, title=title, icon=icon, url_path=title.replace(" ", "_"))
         for script, title, icon, _ in ui.PAGES]
st.navigation([home, *pages]).run()
