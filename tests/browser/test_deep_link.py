"""A deep link as the first request a fresh server gets (its own module, so its own `streamlit run app.py`).

Participants of a listening test are often sent straight to a page's address. Streamlit serves
the files of a folder named ``pages/`` beside the entry point by themselves, without the router in
``app.py``, until some session has run ``st.navigation``; the app's pages live in ``app_pages/``
so that every first request goes through the router.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from streamlit_ui import expect_no_exception, open_page

from dafx_explorer import home

pytestmark = pytest.mark.browser


def test_first_request_to_a_page_address_goes_through_the_router(page):
    open_page(page, "/Listening_Test", "Listening test")
    navigation = page.get_by_test_id("stSidebarNav")
    expect(navigation.get_by_text("Home", exact=True)).to_be_visible()
    for _, title, _, _ in home.PAGES:
        expect(navigation.get_by_text(title, exact=True)).to_be_visible()
    expect(navigation.get_by_text("app", exact=True)).to_have_count(0)  # the entry point is no page of its own
    expect_no_exception(page)
