"""The manifest: entries merge, and processes recording at once lose none."""

import json
import multiprocessing
from pathlib import Path

from dafx_explorer import manifest


def _record_many(path: str, worker: int) -> None:
    for index in range(20):
        manifest.record("models", f"model_{worker}_{index}", {"worker": worker}, path=Path(path))


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
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(str(path), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    assert len(manifest.read(path)["models"]) == 4 * 20
