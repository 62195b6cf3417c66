"""The home page runs headless and shows what the app is, the data and every effect's parameters."""

from streamlit.testing.v1 import AppTest

from dafx_explorer import effects
from dafx_explorer.settings import REPO_ROOT

APP = REPO_ROOT / "app.py"


def test_home_page_shows_effects_and_data():
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "DAFX Explorer"
    assert [e.label for e in app.expander] == effects.names()
    text = " ".join(str(df.value.to_dict()) for df in app.dataframe)
    assert "drive_db" in text and "carrier_hz" in text and "encoder (vae)" in text


def test_home_page_with_an_empty_data_folder_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    status = app.dataframe[0].value
    assert set(status["status"]) == {"missing"}
