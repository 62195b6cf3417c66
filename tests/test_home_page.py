"""The home page runs headless and shows what the app is, the data and every effect's parameters."""

from streamlit.testing.v1 import AppTest

from dafx_explorer import effects, home
from dafx_explorer.settings import REPO_ROOT

APP = REPO_ROOT / "app.py"


def test_home_page_shows_effects_and_data():
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "DAFX Explorer"
    assert [e.label for e in app.expander] == effects.names()
    text = " ".join(block.value for block in app.markdown)
    assert "| drive_db | 0 | 45 | dB | linear | 20 |" in text and "carrier_hz" in text
    assert "| encoder (vae) |" in text


def test_home_page_with_an_empty_data_folder_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    status = next(block.value for block in app.markdown if block.value.startswith("| item | status |"))
    assert "loaded" not in status and status.count("| missing |") == 2 + 2 * len(effects.names())


def test_navigation_names_every_page_and_home_links_to_each():
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    links = app.get("page_link")
    assert [link.proto.page for link in links] == [title.replace(" ", "_") for _, title, _, _ in home.PAGES]
    for (script, title, _, _), link in zip(home.PAGES, links, strict=True):
        assert (REPO_ROOT / script).is_file() and link.proto.label.startswith(f"**{title}**")
    app.switch_page("app_pages/3_Style_Match.py").run()
    assert not app.exception and app.title[0].value == "Style Match"
