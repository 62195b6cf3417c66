"""The Dockerfile keeps its promises (read statically: no Docker engine runs here) and install.sh,
the install recipe it shares with CI, behaves."""

import fnmatch
import json
import shlex
import subprocess
from pathlib import PurePosixPath

import pytest

from dafx_explorer.settings import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
INSTALL = REPO_ROOT / "install.sh"
# What `streamlit run app.py` needs at run time, relative to the working directory.
APP_PATHS = ("app.py", "app_pages", "dafx_explorer", "precomputed", ".streamlit")


def instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` of each instruction of a Dockerfile, continuation lines joined."""
    result, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def arguments_list(arguments: str) -> list[str]:
    """Exec-form (JSON array) or shell-form arguments as a list of words."""
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def env_values(steps) -> dict[str, str]:
    values = {}
    for keyword, arguments in steps:
        if keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                values[name] = value
    return values


def dockerignored(path: str) -> bool:
    """Whether a .dockerignore pattern (last match wins, ``!`` re-includes) excludes ``path`` or a parent."""
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        cleaned = pattern.removeprefix("!").strip("/")
        if any(fnmatch.fnmatchcase(candidate, cleaned) for candidate in candidates):
            ignored = not negate
    return ignored


@pytest.fixture(scope="module")
def steps():
    return instructions(DOCKERFILE.read_text())


def last(steps, keyword: str) -> str:
    found = [arguments for k, arguments in steps if k == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    return found[-1]


def test_base_image_is_python_311_slim(steps):
    assert [arguments for keyword, arguments in steps if keyword == "FROM"] == ["python:3.11-slim"]


def test_runs_as_a_non_root_user(steps):
    user = last(steps, "USER").split(":")[0]
    assert user not in ("root", "0", "")
    keywords = [keyword for keyword, _ in steps]
    user_at = len(keywords) - 1 - keywords[::-1].index("USER")
    assert user_at < keywords.index("CMD"), "USER must come before CMD"
    created = [arguments for keyword, arguments in steps[:user_at] if keyword == "RUN" and user in arguments]
    assert any("useradd" in arguments for arguments in created), f"user {user!r} is never created"


def test_exposes_8501_and_checks_streamlit_health(steps):
    assert "8501" in last(steps, "EXPOSE").split()
    healthcheck = last(steps, "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD")
    assert command, "HEALTHCHECK has no CMD"
    words = arguments_list(command.strip())
    assert words[0] == "python", "slim has no curl: the health check must use Python"
    assert "urllib" in " ".join(words) and "8501/_stcore/health" in " ".join(words)
    assert "--timeout=" in options


def test_cmd_serves_the_app_on_all_interfaces(steps):
    words = arguments_list(last(steps, "CMD"))
    assert words[:3] == ["streamlit", "run", "app.py"]
    for option in ("--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"):
        assert option in words[3:], f"CMD lacks {option}"


def test_database_lives_in_a_volume_owned_by_the_user(steps):
    database = PurePosixPath(env_values(steps)["DAFX_EXPLORER_DB"])
    volume = arguments_list(last(steps, "VOLUME"))
    assert volume == ["/data"]
    assert database.parent == PurePosixPath("/data") and database.suffix == ".sqlite"
    keywords = [keyword for keyword, _ in steps]
    user = last(steps, "USER").split(":")[0]
    before_volume = " ".join(arguments for keyword, arguments in steps[: keywords.index("VOLUME")] if keyword == "RUN")
    assert "mkdir /data" in before_volume and f"chown {user}:{user} /data" in before_volume, \
        "/data must be created and handed to the user before VOLUME (later changes to a volume are lost)"


def test_install_sh_is_the_install_step(steps):
    runs = [(i, arguments) for i, (keyword, arguments) in enumerate(steps) if keyword == "RUN"]
    installs = [(i, arguments) for i, arguments in runs if "install.sh" in arguments]
    assert len(installs) == 1, "exactly one RUN calls install.sh"
    index, command = installs[0]
    assert not any("pip" in arguments for _, arguments in runs), "pip runs only inside install.sh"
    assert "--torch-index https://download.pytorch.org/whl/cpu" in command, "torch must come from the CPU index"
    assert "--dev" not in command, "the image needs no test tools"
    copied = " ".join(arguments for keyword, arguments in steps[:index] if keyword == "COPY")
    assert "install.sh" in copied and "requirements.txt" in copied, "install.sh runs before it is copied"


def test_app_and_embedded_default_are_copied_and_not_ignored(steps):
    sources = set()
    for keyword, arguments in steps:
        if keyword == "COPY":
            words = [word for word in arguments_list(arguments) if not word.startswith("--")]
            sources.update(word.rstrip("/") for word in words[:-1])
    for path in APP_PATHS:
        assert path in sources, f"{path} is not copied into the image"
        assert (REPO_ROOT / path).exists(), f"{path} does not exist in the repository"
        assert not dockerignored(path), f".dockerignore leaves out {path}"
    for path in ("precomputed/manifest.json", "precomputed/models/encoder_vae.safetensors",
                 "precomputed/datasets/overdrive/points.parquet", "dafx_explorer/__init__.py"):
        assert not dockerignored(path), f".dockerignore leaves out {path}"
    assert dockerignored(".venv/bin/python") and dockerignored("precomputed/runs/encoder_vae/last.pt")


def test_copied_files_are_made_readable_for_the_user(steps):
    keywords = [keyword for keyword, _ in steps]
    last_copy = len(keywords) - 1 - keywords[::-1].index("COPY")
    after = [arguments for keyword, arguments in steps[last_copy:keywords.index("USER")] if keyword == "RUN"]
    assert "chmod -R a+rX /app" in after, "private (0600) files of the build context would be unreadable to the user"


def test_install_sh_is_valid_and_refuses_unknown_options(tmp_path):
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)
    result = subprocess.run(["bash", str(INSTALL), "--venv", str(tmp_path / "venv"), "--frobnicate"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("install.sh: unknown option '--frobnicate' "
                                     "(expected --venv DIR, --dev, --torch-index URL)")
    assert not (tmp_path / "venv").exists(), "options are checked before anything is created"


FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for Python: records its arguments; `-m venv DIR` makes DIR/bin/python a copy of itself.
echo "$0 $*" >> "$LOG"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi
"""


@pytest.fixture
def fake_python(tmp_path):
    path = tmp_path / "python"
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def run_install(fake_python, *options):
    log = fake_python.parent / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", str(INSTALL), *options], check=True, timeout=30,
                   env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake_python), "LOG": str(log)})
    return log.read_text().splitlines()


def test_install_sh_installs_the_requirements_into_the_chosen_python(fake_python, tmp_path):
    pins = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch==")]
    assert len(pins) == 1, "install.sh --torch-index needs exactly one 'torch==X.Y.Z' pin in requirements.txt"
    assert run_install(fake_python) == [f"{fake_python} -m pip install -r requirements.txt"]

    venv = tmp_path / "venv"
    venv_python = venv / "bin" / "python"
    calls = run_install(fake_python, "--venv", str(venv), "--dev", "--torch-index", "https://example.org/cpu")
    assert calls == [f"{fake_python} -m venv {venv}",
                     f"{venv_python} -m pip install --index-url https://example.org/cpu {pins[0]}",
                     f"{venv_python} -m pip install -r requirements.txt",
                     f"{venv_python} -m pip install -r requirements-dev.txt"]
    # An existing virtual environment is used as it is.
    assert run_install(fake_python, "--venv", str(venv)) == [f"{venv_python} -m pip install -r requirements.txt"]
