"""SQLite storage of listening-test answers: durability, concurrency, clear failures."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from dafx_explorer.errors import DataError
from dafx_explorer.listening import ListeningStore, is_session_id, seeded_order, validate_rating
from dafx_explorer.settings import REPO_ROOT


def test_database_file_is_wal_with_schema_and_parent_folder(tmp_path):
    store = ListeningStore(tmp_path / "nested" / "deeper" / "answers.sqlite")
    session = store.new_session(user_agent="pytest")
    assert is_session_id(session) and len(session) == 11
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "answers"} <= tables
    assert con.execute("SELECT user_agent FROM sessions WHERE id = ?", (session,)).fetchone() == ("pytest",)


def test_default_path_comes_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DAFX_EXPLORER_DB", str(tmp_path / "env.sqlite"))
    store = ListeningStore()
    store.new_session()
    assert store.path == tmp_path / "env.sqlite" and store.path.exists()


def test_record_and_read_back(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    one, two = store.new_session(), store.new_session()
    assert one != two
    ids = store.record(one, "mushra", "delay-0", {"hidden_reference": 100, "anchor": 12.5},
                       {"trial_ms": 5300, "effect": "delay"})
    store.record(two, "questionnaire", "items", {"comments": None}, {"text": "nice"})
    frame = store.answers(one)
    assert list(frame["id"]) == ids
    assert list(frame["item"]) == ["hidden_reference", "anchor"]
    assert list(frame["value"]) == [100.0, 12.5]
    assert frame["payload"][0] == {"trial_ms": 5300, "effect": "delay"}
    everyone = store.answers()
    assert len(everyone) == 3 and everyone["value"].isna().sum() == 1
    assert set(store.sessions()["id"]) == {one, two}
    assert store.answers("").empty  # an empty code is no session, not "everyone"


@pytest.mark.parametrize(("test", "value", "message"), [
    ("mushra", 101, "between 0 and 100"),
    ("mushra", -1, "between 0 and 100"),
    ("expert1", 0, "between 1 and 10"),
    ("questionnaire", float("nan"), "between 1 and 10"),
    ("expert2", "lots", "must be a number"),
    ("mosra", 50, "unknown listening test"),
])
def test_bad_ratings_are_refused_and_nothing_is_written(tmp_path, test, value, message):
    store = ListeningStore(tmp_path / "a.sqlite")
    session = store.new_session()
    with pytest.raises(DataError, match=message):
        store.record(session, test, "t", {"ok": 5, "bad": value})
    assert store.answers(session).empty


def test_unknown_session_and_bad_payload_are_refused(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    with pytest.raises(DataError, match="unknown listening-test session"):
        store.record("NoSuchSession", "mushra", "t", {"anchor": 5})
    session = store.new_session()
    with pytest.raises(DataError, match="not JSON-serializable"):
        store.record(session, "mushra", "t", {"anchor": 5}, {"when": object()})
    with pytest.raises(DataError, match="no answers"):
        store.record(session, "mushra", "t", {})
    assert store.answers().empty
    assert not store.has_session("NoSuchSession") and not store.has_session("../../etc")


def test_rating_validation_and_seeded_order():
    assert validate_rating("mushra", 0) == 0.0 and validate_rating("expert1", None) is None
    items = ["hidden_reference", "anchor", "model", "refined"]
    order = seeded_order("sessionA", "delay-0", items)
    assert sorted(order) == sorted(items)
    assert order == seeded_order("sessionA", "delay-0", items)
    orders = {tuple(seeded_order(f"s{i}", "delay-0", items)) for i in range(40)}
    assert len(orders) > 5


def test_eight_threads_lose_nothing(tmp_path):
    store = ListeningStore(tmp_path / "busy.sqlite")
    sessions = [store.new_session() for _ in range(8)]
    errors = []

    def participant(session):
        try:
            for i in range(50):
                store.record(session, "mushra", f"trial-{i}", {"model": i % 101}, {"n": i})
        except Exception as error:  # collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=participant, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    frame = store.answers()
    assert len(frame) == 400 and frame["id"].is_unique
    assert frame.groupby("session_id").size().tolist() == [50] * 8


WRITER = textwrap.dedent("""
    import sys
    from dafx_explorer.listening import ListeningStore
    store = ListeningStore(sys.argv[1])
    session = store.new_session()
    i = 0
    while True:
        (answer_id,) = store.record(session, "mushra", f"trial-{i}", {"model": i % 101})
        print(answer_id, flush=True)
        i += 1
""")


def test_answers_committed_before_sigkill_survive(tmp_path):
    path = tmp_path / "killed.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                              text=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    printed = []
    deadline = time.monotonic() + 30
    while len(printed) < 30 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        printed.append(int(line))
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    printed += [int(line) for line in writer.stdout.read().split()]
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    assert len(printed) >= 30
    stored = set(ListeningStore(path).answers()["id"])
    assert set(printed) <= stored


def test_folder_as_database_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        ListeningStore(tmp_path).new_session()


def test_parent_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DataError, match="could not open the listening-test database"):
        ListeningStore(tmp_path / "file" / "a.sqlite").new_session()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DataError, match="listening-test database"):
            ListeningStore(folder / "a.sqlite").new_session()
    finally:
        folder.chmod(0o700)


def test_write_failing_after_open_is_a_clear_error(tmp_path):
    store = ListeningStore(tmp_path / "a.sqlite")
    session = store.new_session()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        quick = ListeningStore(store.path, busy_timeout=0.2)
        with pytest.raises(DataError, match="could not write to the listening-test database.*locked"):
            quick.record(session, "mushra", "t", {"anchor": 3})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.answers().empty
