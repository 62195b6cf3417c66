"""README.md's set-up commands are the ones CI runs, and its tables are filled in."""

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
