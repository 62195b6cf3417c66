"""Listening-test answers in SQLite, and the participant protocol around them.

Every answer is one row, committed (``synchronous=FULL``, WAL journal) before the call
that records it returns, so an answer the participant saw confirmed survives a crash of
the app or the machine. Each call opens its own short-lived connection and opens write
transactions with ``BEGIN IMMEDIATE``: one :class:`ListeningStore` can be shared by every
Streamlit session thread, and several processes may write to one file at once.

Schema::

    sessions(id TEXT PRIMARY KEY, created_at TEXT, user_agent TEXT)
    answers(id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT -> sessions.id,
            test TEXT in TESTS, trial_id TEXT, item TEXT, value REAL, payload TEXT (JSON),
            created_at TEXT)

Times are UTC ISO 8601 with milliseconds. Answers are append-only: an answer given again
is a new row, and the analysis keeps the latest one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DafxError, DataError
from .settings import get_settings

TESTS = ("expert1", "expert2", "questionnaire", "mushra")
"""The four parts of a listening session, as stored in ``answers.test``."""

RATING_SCALES = {"expert1": (1.0, 10.0), "expert2": (1.0, 10.0), "questionnaire": (1.0, 10.0),
                 "mushra": (0.0, 100.0)}
"""Inclusive (lowest, highest) rating of each test."""

ATTEMPT = "attempt"
"""Item of an expert-test-2 attempt (a click on the map); every attempt is kept."""

ANSWER_COLUMNS = ("id", "session_id", "test", "trial_id", "item", "value", "payload", "created_at")
"""Columns of the answers table, as :meth:`ListeningStore.answers` returns them."""

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{6,64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    test TEXT NOT NULL CHECK (test IN ('expert1', 'expert2', 'questionnaire', 'mushra')),
    trial_id TEXT NOT NULL,
    item TEXT NOT NULL,
    value REAL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_session ON answers(session_id, test, trial_id);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def is_session_id(text: str) -> bool:
    """Whether ``text`` looks like a session code (6–64 URL-safe characters)."""
    return isinstance(text, str) and _SESSION_ID.fullmatch(text) is not None


def validate_rating(test: str, value: float | None) -> float | None:
    """Check a rating against its test's scale.

    Parameters
    ----------
    test : str
        One of :data:`TESTS`.
    value : float or None
        The rating; None for answers without one (an attempt, a comment).

    Returns
    -------
    float or None
        The rating as a float.

    Raises
    ------
    DataError
        Unknown test, or a rating that is not a finite number on the test's scale.
    """
    if test not in RATING_SCALES:
        raise DataError(f"unknown listening test {test!r}; expected one of {', '.join(TESTS)}")
    if value is None:
        return None
    low, high = RATING_SCALES[test]
    try:
        rating = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{test} rating must be a number, got {value!r}") from None
    if not math.isfinite(rating) or not low <= rating <= high:
        raise DataError(f"{test} rating must be between {low:g} and {high:g}, got {value!r}")
    return rating


def session_rng(session_id: str, key: str) -> np.random.Generator:
    """A random generator seeded by a session and a key (a trial id): the same after a reload,
    different for other sessions."""
    digest = hashlib.sha256(f"{session_id}\x00{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def seeded_order(session_id: str, key: str, items: Sequence[str]) -> list[str]:
    """Shuffle ``items`` reproducibly for one session and one key (see :func:`session_rng`)."""
    return [items[i] for i in session_rng(session_id, key).permutation(len(items))]


class ListeningStore:
    """Answers of listening-test sessions in one SQLite file.

    Parameters
    ----------
    path : str or Path, optional
        The database file; created with its parent folder on first use
        (default: ``settings.get_settings().db_path``, env ``DAFX_EXPLORER_DB``).
    busy_timeout : float
        Seconds a write waits for another writer before it fails.
    """

    def __init__(self, path: str | Path | None = None, *, busy_timeout: float = 30.0):
        self.path = Path(path) if path is not None else get_settings().db_path
        self.busy_timeout = busy_timeout
        self._ready = False

    # -- connections -------------------------------------------------------------------

    def _fail(self, action: str, error: BaseException) -> DataError:
        return DataError(f"could not {action} the listening-test database {self.path}: {error}")

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.path.is_dir():
                raise DataError(f"listening-test database path {self.path} is a folder; expected a file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                  check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise self._fail("open", error) from error
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            con.execute("PRAGMA synchronous = FULL")
            con.execute("PRAGMA foreign_keys = ON")
            if not self._ready:
                mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise sqlite3.OperationalError(f"journal mode is {mode!r}, WAL is not available")
                con.executescript(_SCHEMA)
                self._ready = True
        except sqlite3.Error as error:
            con.close()
            raise self._fail("open", error) from error
        return con

    def _write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction; return once it is committed."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            result = work(con)
            con.execute("COMMIT")
            return result
        except sqlite3.Error as error:
            raise self._fail("write to", error) from error
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
            con.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        con = self._connect()
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self._fail("read", error) from error
        finally:
            con.close()

    # -- sessions ----------------------------------------------------------------------

    def new_session(self, user_agent: str | None = None) -> str:
        """Create an anonymous session and return its random, URL-safe code."""
        session_id = secrets.token_urlsafe(8)
        self._write(lambda con: con.execute(
            "INSERT INTO sessions (id, created_at, user_agent) VALUES (?, ?, ?)",
            (session_id, _now(), user_agent)))
        return session_id

    def has_session(self, session_id: str) -> bool:
        """Whether a session with this code exists."""
        if not is_session_id(session_id):
            return False
        return bool(self._read("SELECT 1 FROM sessions WHERE id = ?", (session_id,)))

    def sessions(self) -> pd.DataFrame:
        """All sessions: columns ``id``, ``created_at``, ``user_agent``."""
        rows = self._read("SELECT id, created_at, user_agent FROM sessions ORDER BY created_at, id")
        return pd.DataFrame(rows, columns=["id", "created_at", "user_agent"])

    # -- answers -----------------------------------------------------------------------

    def record(self, session_id: str, test: str, trial_id: str, items: Mapping[str, float | None],
               payload: Mapping[str, Any] | None = None) -> list[int]:
        """Store answers of one trial in one transaction; return their row ids once committed.

        Parameters
        ----------
        session_id : str
            An existing session's code.
        test : str
            One of :data:`TESTS`.
        trial_id : str
            Which trial (or questionnaire page) the answers belong to.
        items : mapping of str to float or None
            One answer per item (a MUSHRA condition, a questionnaire item, ``"rating"``,
            ``"attempt"``); the value is a rating on the test's scale, or None.
        payload : mapping, optional
            JSON-serializable details stored with every answer of the call (time per trial
            in ms, map coordinates, attempts, comments).

        Raises
        ------
        DataError
            Unknown session or test, a rating off its scale, or the write failed.
        """
        if not items:
            raise DataError("no answers to record; expected at least one item")
        values = [(str(item), validate_rating(test, value)) for item, value in items.items()]
        if not trial_id or any(not item for item, _ in values):
            raise DataError("trial id and item names must be non-empty strings")
        try:
            text = json.dumps(dict(payload or {}), default=_json_default, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise DataError(f"answer details are not JSON-serializable: {error}") from None
        created = _now()

        def insert(con: sqlite3.Connection) -> list[int]:
            if con.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                raise DataError(f"unknown listening-test session {session_id!r}; start a new session")
            return [con.execute(
                "INSERT INTO answers (session_id, test, trial_id, item, value, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, test, str(trial_id), item, value, text, created)).lastrowid
                for item, value in values]

        return self._write(insert)

    def answers(self, session_id: str | None = None) -> pd.DataFrame:
        """Answers in the order given, of one session or of all.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`ANSWER_COLUMNS`; ``payload`` holds dicts, ``value`` floats (NaN
            where an answer has no rating).
        """
        sql = f"SELECT {', '.join(ANSWER_COLUMNS)} FROM answers"
        rows = (self._read(sql + " WHERE session_id = ? ORDER BY id", (session_id,)) if session_id is not None
                else self._read(sql + " ORDER BY id"))
        frame = pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))
        frame["value"] = frame["value"].astype(float)
        frame["payload"] = [json.loads(text) for text in frame["payload"]]
        return frame


# -- the participant protocol ------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A questionnaire item rated 1–10 (``low`` and ``high`` label the ends)."""

    key: str
    text: str
    group: str
    low: str = "not at all"
    high: str = "completely"


QUESTIONNAIRE = (
    Question("ease", "How easy was the map to use?", "usability", "very hard", "very easy"),
    Question("learnability", "How quickly did you find your way around the map?", "usability",
             "very slowly", "at once"),
    Question("predictability", "How well could you predict what a point on the map would sound like?",
             "usability"),
    Question("control", "How much in control of the effect did you feel?", "usability"),
    Question("speed", "How quickly could you reach the sound you had in mind?", "efficiency",
             "very slowly", "at once"),
    Question("effort", "How little effort did reaching a sound take?", "efficiency",
             "a lot of effort", "no effort"),
    Question("versus_knobs", "Compared with turning the effect's knobs, how efficient was the map?",
             "efficiency", "much worse", "much better"),
    Question("reuse", "How likely are you to use a map like this in your own work?", "efficiency",
             "not at all", "very likely"),
)
"""Usability and efficiency items of the questionnaire, each rated 1–10, then free comments."""

QUESTIONNAIRE_TRIAL = "questionnaire"
"""Trial id under which the questionnaire's answers are stored."""
COMMENTS = "comments"
"""Item of the questionnaire's free comments (no rating; the text is in the payload)."""

PARTS = {"expert1": "Expert test 1 · interpolation", "expert2": "Expert test 2 · semantic control",
         "mushra": "MUSHRA", "questionnaire": "Questionnaire"}
"""The parts of a session as the participant sees them, by test."""

MUSHRA_SCALE = "0–20 bad · 20–40 poor · 40–60 fair · 60–80 good · 80–100 excellent"
"""The five labelled bands of the MUSHRA slider (ITU-R BS.1534-3)."""

ABOUT = """**Expert test 1.** A and B are two settings of an effect at the ends of a line on a map of its sounds.
You then hear C, the setting halfway between, and rate how close it came to what you expected.

**Expert test 2.** From a starting sound X you are asked for a change, such as "make it much brighter". Click the
map to try settings (every click counts as a try), stop when you are happy, and rate how easy it was.

**MUSHRA** (after ITU-R BS.1534-3). You compare a few processed sounds with a reference and rate each from 0 to
100; one of them is the reference itself, hidden among the others.

**Questionnaire.** A few questions about the map, and room for comments.

Only your answers, their times and your browser's name are stored, under a random session code. The protocol and
the data kept are described in `docs/listening-tests.md`."""
"""What the Listening Test page's "About this page" tells a participant."""

INSTRUCTIONS = {
    "expert1": "**Effect: {effect}.** Listen to A, B and the clean sound as often as you like and imagine the sound "
               "halfway between A and B. Then play C and rate how well it matched what you expected.",
    "expert2": "**Effect: {effect}.** Start from X. **{prompt}** Click the map to try a setting (every click counts "
               "as a try); stop when you are satisfied and rate how easy it was.",
    "mushra": "**Trial {number}.** Rate how close each sound is to the reference (effect: *{effect}*). One of them is "
              "the reference itself. Play each sound before rating it; replay any as often as you like.",
    "start": "Your answers are anonymous: you get a random session code, and nothing else about you is stored. "
             "Please use headphones in a quiet room.",
}
"""What the participant is told at the start of each part (``str.format`` fields in braces)."""

HELP = {
    "part": "The four parts of the test, in any order; your progress in each is kept.",
    "start": "Get a new session code and begin the test.",
    "resume": "The code you were shown when you started; your answers so far are kept.",
    "download": "Every answer you gave, saved or not, as a file to send to the experimenter.",
    "play_c": "Hear C, the setting halfway along the line, once you have an idea of what the middle should sound like.",
    "expert1_rating": "1 = not at all, 10 = exactly. Play C first.",
    "expert1_submit": "Save your rating and go on to the next pair.",
    "map_x": "Position from left to right on the map.",
    "map_y": "Position from bottom to top on the map.",
    "try": "Hear the setting nearest to these coordinates.",
    "expert2_rating": "1 = very hard, 10 = very easy. Try at least one point first.",
    "expert2_submit": "Your last try counts as your answer: save it with your rating and go on.",
    "play": "Listen to this sound; you can rate it once you have heard it.",
    "mushra_rating": "How close is this sound to the reference? 100 = the same, 0 = nothing like it. Play it first.",
    "mushra_submit": "Save this trial's ratings and go on to the next one.",
    "comments": "Anything you want to tell us about the map or the test.",
    "questionnaire_submit": "Save your answers to the questionnaire.",
}
"""The tooltip of each control of the Listening Test page, for a participant."""


def completed_trials(answers: pd.DataFrame, test: str) -> set[str]:
    """Trials of ``test`` that a session has finished: those with a rating (attempts do not count)."""
    rows = answers[(answers["test"] == test) & (answers["item"] != ATTEMPT)]
    return set(rows["trial_id"])


def session_trials(session_id: str, test: str, trial_ids: Sequence[str], limit: int | None = None) -> list[str]:
    """The trials a session gets, in its own seeded order: the first ``limit`` (default all)."""
    return seeded_order(session_id, test, list(trial_ids))[:limit]


def next_trial(session_id: str, test: str, trial_ids: Sequence[str], answers: pd.DataFrame,
               limit: int | None = None) -> str | None:
    """The session's next unfinished trial (see :func:`session_trials`); None when all are done."""
    done = completed_trials(answers, test)
    return next((t for t in session_trials(session_id, test, trial_ids, limit) if t not in done), None)


def progress(session_id: str, test: str, trial_ids: Sequence[str], answers: pd.DataFrame,
             limit: int | None = None) -> tuple[str | None, int, int]:
    """How far a session is in ``test``: (its next trial or None when done, trials done, trials it gets)."""
    mine = session_trials(session_id, test, trial_ids, limit)
    done = len(completed_trials(answers, test) & set(mine))
    return next_trial(session_id, test, trial_ids, answers, limit), done, len(mine)


def attempted_points(answers: pd.DataFrame, trial_id: str) -> list[dict[str, Any]]:
    """The map points (``index``, ``x``, ``y``) a session tried in one expert-test-2 trial, in order."""
    rows = answers[(answers["test"] == "expert2") & (answers["trial_id"] == trial_id) & (answers["item"] == ATTEMPT)]
    return [payload["point"] for payload in rows["payload"]]


def record_or_keep(db: ListeningStore, unsaved: list[dict[str, Any]], session_id: str, test: str, trial_id: str,
                   items: Mapping[str, float | None], payload: Mapping[str, Any]) -> str | None:
    """Record answers; when the write fails, append them to ``unsaved`` (with the time given, for
    :func:`answers_json`) so that nothing is lost, and return the error message. None once saved."""
    try:
        db.record(session_id, test, trial_id, items, payload)
    except DafxError as error:
        unsaved.append({"test": test, "trial_id": trial_id, "items": dict(items), "payload": dict(payload),
                        "given_at": _now()})
        return str(error)
    return None


class PageState:
    """The Listening Test page's bookkeeping in Streamlit's session state (or any mutable mapping).

    Its keys start with ``listening_``: ``unsaved`` (answers whose write failed, for
    :func:`answers_json`), ``write_error`` (why the last write failed), ``confirmed`` (the last
    saved answer's message, shown once), ``stored`` (a session id and its answers as last read) and
    ``{trial key}:started`` (:func:`time.monotonic` when the trial was first shown).
    """

    def __init__(self, state: MutableMapping[str, Any]):
        self.state = state
        for name, default in (("unsaved", []), ("write_error", None), ("confirmed", None), ("stored", None)):
            state.setdefault(f"listening_{name}", default)

    @property
    def unsaved(self) -> list[dict[str, Any]]:
        """Answers given but not written (see :func:`record_or_keep`)."""
        return self.state["listening_unsaved"]

    @property
    def write_error(self) -> str | None:
        """Why the last write failed; None if it succeeded."""
        return self.state["listening_write_error"]

    def save(self, db: ListeningStore, session_id: str, test: str, trial_id: str, items: Mapping[str, float | None],
             payload: Mapping[str, Any], what: str) -> None:
        """Record answers; once written, confirm them with "``what`` saved.", else keep them and the error."""
        error = record_or_keep(db, self.unsaved, session_id, test, trial_id, items, payload)
        self.state["listening_write_error"], self.state["listening_confirmed"] = error, (
            None if error else f"{what} saved.")

    def take_confirmation(self) -> str | None:
        """The last saved answer's confirmation, once: it is cleared."""
        message, self.state["listening_confirmed"] = self.state["listening_confirmed"], None
        return message

    def read_answers(self, db: ListeningStore, session_id: str) -> pd.DataFrame:
        """The session's answers from the database, kept for :meth:`last_answers`."""
        answers = db.answers(session_id)
        self.state["listening_stored"] = (session_id, answers)
        return answers

    def last_answers(self, session_id: str | None) -> pd.DataFrame | None:
        """The answers last read for this session (while the database cannot be read); None if none were."""
        stored = self.state["listening_stored"]
        return stored[1] if stored is not None and stored[0] == session_id else None

    def start_trial(self, key: str) -> None:
        """Note when the trial ``key`` was first shown (a later call keeps the first time)."""
        self.state.setdefault(f"{key}:started", time.monotonic())

    def elapsed_ms(self, key: str) -> int:
        """Milliseconds since the trial ``key`` was first shown (see :meth:`start_trial`)."""
        return round(1000 * (time.monotonic() - self.state[f"{key}:started"]))


Answer = tuple[dict[str, float | None], dict[str, Any]]
"""What to record for one answer: (a value per item, the payload), as :meth:`ListeningStore.record` takes them."""


def expert1_answer(trial, rating: float, trial_ms: int) -> Answer:
    """What to record for an expert-test-1 trial (an ``expert_trials.InterpolationTrial``): (the rating,
    the payload: the trial and the time taken in ms)."""
    return {"rating": rating}, {**trial.payload(), "trial_ms": trial_ms}


def expert2_attempt(trial, start, point, number: int) -> Answer:
    """What to record for attempt ``number`` (from 1) of an expert-test-2 trial (an
    ``expert_trials.SemanticTrial``) from ``start`` to ``point`` (``MapPoint``): (an ATTEMPT item
    without a value, the payload)."""
    return {ATTEMPT: None}, {**trial.payload(start), "point": point.to_json(), "attempt": number}


def expert2_answer(trial, start, tried: Sequence, rating: float, trial_ms: int) -> Answer:
    """What to record when an expert-test-2 trial ends: (the rating, the payload: the trial, the last
    point ``tried`` as the answer, every attempt in order and the time taken in ms)."""
    return {"rating": rating}, {**trial.payload(start), "point": tried[-1].to_json(),
                                "attempts": [point.to_json() for point in tried], "trial_ms": trial_ms}


def questionnaire_answer(ratings: Mapping[str, float], comments: str) -> Answer:
    """What to record for the questionnaire: (a rating per :data:`QUESTIONNAIRE` key and :data:`COMMENTS`
    without a value, the payload holding the comments)."""
    return {q.key: ratings[q.key] for q in QUESTIONNAIRE} | {COMMENTS: None}, {"comments": comments}


def mushra_labels(order: Sequence[str]) -> dict[str, str]:
    """What the participant calls each sound of a MUSHRA trial (see :func:`mushra_order`): A, B, … in order."""
    return {sound: chr(ord("A") + i) for i, sound in enumerate(order)}


def mushra_order(session_id: str, trial) -> list[str]:
    """The sounds of a MUSHRA trial (a ``mushra_set.MushraTrial``) as this session hears them, labelled
    A, B, … in this order: one per group of stimuli with the same settings, shuffled per session."""
    return seeded_order(session_id, trial.id, [group[0] for group in trial.distinct_stimuli])


def mushra_answer(trial, order: Sequence[str], played: Iterable[str], ratings: Mapping[str, float],
                  set_built: str, trial_ms: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Check one MUSHRA trial's ratings and return what to record: (a rating per stimulus, the payload).

    ``order``, ``played`` and ``ratings`` name the sounds heard (see :func:`mushra_order`); each
    rating stands for every stimulus of its sound's group. The payload keeps the order, the sounds
    played, the time, which set (``set_built``, its ``created_at``) and the trial as heard, since a
    rebuilt set may reuse a trial id.

    Raises
    ------
    DataError
        A sound not played or not rated (see :func:`check_mushra_ratings`).
    """
    members = {group[0]: group for group in trial.distinct_stimuli}
    played = set(played)
    labels = mushra_labels(order)
    given = {member: ratings[s] for s in order if s in played and s in ratings for member in members[s]}
    heard = {member for s in played for member in members[s]}
    named = {member: labels[s] for s in order for member in members[s]}
    items = check_mushra_ratings(given, heard, trial.rated, named)
    payload = {"effect": trial.effect, "order": list(order), "played": sorted(played), "trial_ms": trial_ms,
               "listening_set": set_built, "trial": trial.to_json(),
               "merged": [list(group) for group in members.values() if len(group) > 1]}
    return items, payload


def check_mushra_ratings(ratings: Mapping[str, float], played: Iterable[str], rated: Sequence[str],
                         labels: Mapping[str, str] | None = None) -> dict[str, float]:
    """Check one MUSHRA trial's ratings before they are stored.

    Parameters
    ----------
    ratings : mapping of str to float
        Rating (0–100) per stimulus.
    played : iterable of str
        Stimuli the participant has played.
    rated : sequence of str
        Stimuli of the trial that must be rated.
    labels : mapping of str to str, optional
        What the participant calls each stimulus (e.g. ``"B"``), for messages.

    Raises
    ------
    DataError
        A stimulus not played, not rated, unknown, or a rating outside 0–100.
    """
    labels = labels or {}
    played = set(played)
    unknown = set(ratings) - set(rated)
    if unknown:
        raise DataError(f"unknown stimuli {sorted(unknown)}; expected {', '.join(rated)}")
    for stimulus in rated:
        name = labels.get(stimulus, stimulus)
        if stimulus not in played:
            raise DataError(f"play stimulus {name} before rating it")
        if stimulus not in ratings:
            raise DataError(f"rate stimulus {name}")
    return {stimulus: validate_rating("mushra", ratings[stimulus]) for stimulus in rated}


def answers_json(session_id: str, stored: pd.DataFrame, unsaved: Sequence[Mapping[str, Any]] = ()) -> str:
    """A participant's answers as JSON, for them to download when saving failed.

    Parameters
    ----------
    session_id : str
    stored : pandas.DataFrame
        The session's answers read from the database (``ListeningStore.answers(session_id)``).
    unsaved : sequence of mapping
        Answers given but not saved: ``test``, ``trial_id``, ``items``, ``payload``, ``given_at``.
    """
    saved = [{"id": int(row.id), "test": row.test, "trial_id": row.trial_id, "item": row.item,
              "value": None if pd.isna(row.value) else float(row.value), "payload": row.payload,
              "created_at": row.created_at} for row in stored.itertuples(index=False)]
    return json.dumps({"session_id": session_id, "saved": saved, "unsaved": list(unsaved)},
                      indent=1, default=_json_default)
