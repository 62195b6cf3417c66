"""The Home, Latent Controller, Latent Space, Style Match and Results pages speak to users: each opens
with at most two plain sentences, and every control carries a tooltip (``help=``)."""

import ast
import re

import pytest
from streamlit.testing.v1 import AppTest

from dafx_explorer.settings import REPO_ROOT

PAGES = REPO_ROOT / "app_pages"
CHECKED = [REPO_ROOT / "app.py", PAGES / "0_Home.py", PAGES / "1_Latent_Controller.py", PAGES / "2_Latent_Space.py",
           PAGES / "3_Style_Match.py", PAGES / "5_Results.py"]
CONTROLS = ("button", "download_button", "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider",
            "select_slider", "number_input", "text_input", "text_area", "file_uploader", "color_picker",
            "date_input", "time_input", "page_link", "segmented_control", "pills", "feedback", "audio_input")
"""Streamlit's input elements, by the name of the function that draws them and of AppTest's element type."""


def sentences(text: str) -> int:
    """How many sentences a short markdown text has (ends of sentences: . ! or ? before a space or the end)."""
    plain = re.sub(r"[*_`]", "", text).strip()
    return len(re.findall(r"[.!?](?=\s|$)", plain))


def controls_without_help(at: AppTest) -> list[str]:
    return [f"{kind} {getattr(element, 'label', '')!r}" for kind in CONTROLS for element in at.get(kind)
            if not element.proto.help.strip()]


def opening(at: AppTest) -> str:
    assert at.title, "the page has no title"
    return at.markdown[0].value


@pytest.fixture(autouse=True)
def _shipped_data_folder(monkeypatch):
    """These pages are read as a user gets them: on the shipped data folder, whichever fixture set another."""
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(REPO_ROOT / "precomputed"))


@pytest.mark.parametrize("path", CHECKED, ids=lambda path: path.name)
def test_every_control_in_the_source_has_a_tooltip(path):
    """Also the controls a run does not reach (an upload field, the Results page's MUSHRA filters)."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CONTROLS:
            help_text = next((k.value for k in node.keywords if k.arg == "help"), None)
            if help_text is None or (isinstance(help_text, ast.Constant) and not str(help_text.value).strip()):
                missing.append(f"line {node.lineno}: {node.func.attr}")
    assert not missing, f"{path.name}: controls without help= {missing}"


FIGURES = re.compile(r"\d+ of (the )?\d+ effects|× random|(?<![.\w])0\.\d\d|(?<![.\w])\d+(\.\d+)? ?%")
"""What an experiment's figures look like in prose ("7 of the 8 effects", "0.38 × random", "15 %")."""


@pytest.mark.parametrize("path", CHECKED, ids=lambda path: path.name)
def test_no_experiment_figures_in_page_text(path):
    """Figures belong in docs/results.md and the Results page's tables, not in what a page says."""
    found = [f"line {node.lineno}: {node.value[:60]!r}" for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and FIGURES.search(node.value)]
    assert not found, f"{path.name}: {found}"


def test_home_opens_briefly_and_its_links_have_tooltips():
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert sentences(opening(at)) <= 2, opening(at)
    assert len(at.get("page_link")) >= 5 and not controls_without_help(at)


def test_latent_controller_opens_briefly_and_credits_a_real_recording():
    at = AppTest.from_file(str(PAGES / "1_Latent_Controller.py"), default_timeout=60).run()
    assert not at.exception
    assert sentences(opening(at)) <= 2, opening(at)
    assert "About this page" in [e.label for e in at.expander]
    assert not controls_without_help(at)
    at.selectbox(key="latent:dataset").set_value("delay_real_voice").run()
    assert not at.exception
    assert any("Allison Smith" in c.value and "CC-BY-SA-3.0" in c.value for c in at.caption)


def test_latent_space_opens_briefly_and_explains_itself_in_an_expander():
    at = AppTest.from_file(str(PAGES / "2_Latent_Space.py"), default_timeout=60).run()
    assert not at.exception
    assert sentences(opening(at)) <= 2, opening(at)
    assert "About this page" in [e.label for e in at.expander]
    assert at.radio and at.selectbox and not controls_without_help(at)


def test_style_match_opens_briefly_and_every_control_has_a_tooltip():
    at = AppTest.from_file(str(PAGES / "3_Style_Match.py"), default_timeout=120).run()
    assert not at.exception
    assert sentences(opening(at)) <= 2, opening(at)
    assert "About this page" in [e.label for e in at.expander]
    assert not re.search(r"\d+ of (the )?\d+|\d\.\d\d", opening(at))  # no experiment figures up front
    assert not controls_without_help(at)
    at.radio(key="style_match_input_origin").set_value("Upload a file")
    at.radio(key="style_match_reference_origin").set_value("Shipped clip through a preset").run()
    assert not at.exception
    assert len(at.get("file_uploader")) == 2 and not controls_without_help(at)


def test_results_opens_briefly_and_every_control_has_a_tooltip(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_DB", str(tmp_path / "answers.sqlite"))
    monkeypatch.setenv("DAFX_EXPLORER_ADMIN_PASSWORD", "correct horse")
    at = AppTest.from_file(str(PAGES / "5_Results.py"), default_timeout=60).run()
    assert sentences(opening(at)) <= 2, opening(at)
    at.text_input(key="admin_password").input("correct horse").run()
    assert not at.exception
    assert at.download_button and not controls_without_help(at)


def test_sentences_are_counted():
    assert sentences("One plain sentence. And a **second** one!") == 2
    assert sentences("Three. Short. Ones.") == 3
    assert sentences("A version 0.3 is no end of a sentence") == 0
    assert FIGURES.search("better for 7 of the 8 effects") and FIGURES.search("within 0.38 of it")
    assert not FIGURES.search("{agreement:.1%}") and not FIGURES.search("the first 5 seconds")
