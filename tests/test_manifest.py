"""The manifest: entries merge, and processes recording at once lose none."""

import json
import os
import subprocess
import sys

from dafx_explorer import manifest
from dafx_explorer.settings import REPO_ROOT

# Each worker is a fresh interpreter, as separate train/precompute commands are. (multiprocessing's
# "spawn" would re-run whatever script Streamlit's AppTest last installed as ``__main__``.)
RECORD_MANY = """
import sys
from pathlib import Path
from dafx_explorer import manifest
for index in range(20):
    manifest.record("models", f"model_{sys.argv[2]}_{index}", {"worker": sys.argv[2]}, path=Path(sys.argv[1]))
"""


def test_entries_merge_and_carry_versions(tmp_path):
    path = tmp_path / "manifest.json"
    manifest.record("models", "a", {"file": "a.safetensors"}, path=path)
    manifest.record("datasets", "b", {"points": 3}, path=path)
    manifest.record("models", "a", {"file": "a2.safetensors"}, path=path)
    data = json.loads(path.read_text())
    assert data["models"]["a"]["file"] == "a2.safetensors" and data["datasets"]["b"]["points"] == 3
    assert data["models"]["a"]["libraries"]["torch"] != "not installed"


def test_concurrent_processes_lose_no_entry(tmp_path):
    path = tmp_path / "manifest.json"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_MANY, str(path), str(w)], env=environment, stderr=subprocess.PIPE
        )
        for w in range(4)
    ]
    for process in workers:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors.decode()
    assert len(manifest.read(path)["models"]) == 4 * 20
