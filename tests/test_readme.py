"""README.md is a short product page: its set-up commands are the ones CI runs, it stays under 12 KB,
and its links lead somewhere."""

import re

from dafx_explorer.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
CI = (REPO_ROOT / ".ci" / "run").read_text()


def _commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", README)


def test_readme_gives_the_app_and_the_test_command():
    commands = _commands()
    assert any(c.endswith("streamlit run app.py") for c in commands)
    assert any(c.endswith("python -m pytest") for c in commands)


def test_ci_runs_the_readme_test_command():
    test_command = next(c for c in _commands() if c.endswith("python -m pytest"))
    for step in test_command.split(" && "):
        assert step in CI.splitlines(), f"CI does not run the README step {step!r}"


def test_no_placeholders_left():
    assert "PLACEHOLDER" not in README and "TBD" not in README


def test_readme_is_a_short_product_page():
    size = len((REPO_ROOT / "README.md").read_bytes())
    assert size <= 12_288, f"README.md is {size} bytes; move detail into docs/ (at most 12 KB)"



def test_readme_and_docs_links_lead_somewhere():
    """Every relative link of README.md and docs/*.md names a file of the repository (anchors aside)."""
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            path = target.partition("#")[0]
            if path and not target.startswith(("http://", "https://")) and not (page.parent / path).exists():
                missing.append(f"{page.relative_to(REPO_ROOT)} → {target}")
    assert "docs/screenshots/latent_controller.png" in README and not missing, missing
