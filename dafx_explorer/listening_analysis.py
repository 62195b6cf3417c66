"""Analysis of listening-test answers: MUSHRA post-screening and summaries as DataFrames.

Every function takes the answers table of :meth:`ListeningStore.answers` (or a part of
it) and returns a :class:`pandas.DataFrame`, ready to show, plot or export as CSV.
Answers given again replace earlier ones (the latest row of a session, test, trial and
item counts); attempts (item ``"attempt"``, expert test 2) are events and all count.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from scipy import stats

from .expert_trials import map_figure
from .listening import ANSWER_COLUMNS, ATTEMPT
from .mushra_set import ANCHOR, HIDDEN_REFERENCE

HIDDEN_REFERENCE_MIN = 90.0
"""ITU-R BS.1534-3 post-screening: a hidden reference rated below this counts against the assessor."""

MAX_FRACTION_BELOW = 0.15
"""…and an assessor is flagged when that happens in more than this fraction of their trials."""

_KEY = ["session_id", "test", "trial_id", "item"]

UNRECORDED_SET = "not recorded"
"""``listening_set`` of MUSHRA ratings saved before answers recorded which set they rate."""


def latest(answers: pd.DataFrame, test: str | None = None) -> pd.DataFrame:
    """The latest answer per session, test, trial and item, and every attempt, in the order given.

    Parameters
    ----------
    answers : pandas.DataFrame
        Columns ``ANSWER_COLUMNS`` (as from ``ListeningStore.answers()``).
    test : str, optional
        Keep only this test's answers.
    """
    missing = set(ANSWER_COLUMNS) - set(answers.columns)
    if missing:
        raise ValueError(f"answers table lacks columns {sorted(missing)}")
    rows = answers if test is None else answers[answers["test"] == test]
    attempts = rows["item"] == ATTEMPT
    answered = rows[~attempts].drop_duplicates(_KEY, keep="last")
    return pd.concat([answered, rows[attempts]]).sort_values("id").reset_index(drop=True)


def _detail(rows: pd.DataFrame, key: str, default=None) -> list:
    return [payload.get(key, default) for payload in rows["payload"]]


def mushra_ratings(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per MUSHRA rating.

    Returns
    -------
    pandas.DataFrame
        Columns ``listening_set`` (when the rated set was built, :data:`UNRECORDED_SET` for answers
        that did not record it), ``session_id``, ``trial_id``, ``effect``, ``condition``,
        ``rating`` (0–100) and ``trial_ms`` (time the participant spent on the trial, ms).
    """
    rows = latest(answers, "mushra")
    return pd.DataFrame({
        "listening_set": pd.Series([s or UNRECORDED_SET for s in _detail(rows, "listening_set")], dtype=object),
        "session_id": rows["session_id"], "trial_id": rows["trial_id"],
        "effect": pd.Series(_detail(rows, "effect"), dtype=object), "condition": rows["item"],
        "rating": rows["value"].astype(float), "trial_ms": pd.Series(_detail(rows, "trial_ms"), dtype=float),
    })


def post_screening(ratings: pd.DataFrame, *, threshold: float = HIDDEN_REFERENCE_MIN,
                   max_fraction: float = MAX_FRACTION_BELOW) -> pd.DataFrame:
    """Flag assessors per ITU-R BS.1534-3: hidden reference below ``threshold`` in > ``max_fraction`` of trials.

    Parameters
    ----------
    ratings : pandas.DataFrame
        From :func:`mushra_ratings`.
    threshold : float
        Lowest acceptable rating of the hidden reference (0–100).
    max_fraction : float
        Largest acceptable fraction of trials with the hidden reference below ``threshold``.

    Returns
    -------
    pandas.DataFrame
        One row per assessor: ``session_id``, ``trials`` (trials with a hidden-reference
        rating), ``hidden_reference_below`` (how many of them are below the threshold),
        ``fraction_below`` and ``flagged``; also ``anchor_mean`` (mean anchor rating) for context.
    """
    hidden = ratings[ratings["condition"] == HIDDEN_REFERENCE]
    per = hidden.groupby("session_id")["rating"].agg(
        trials="size", hidden_reference_below=lambda r: int((r < threshold).sum()))
    per["fraction_below"] = per["hidden_reference_below"] / per["trials"]
    per["flagged"] = per["fraction_below"] > max_fraction
    anchors = ratings[ratings["condition"] == ANCHOR].groupby("session_id")["rating"].mean()
    per["anchor_mean"] = anchors.reindex(per.index)
    return per.reset_index().astype({"trials": int, "hidden_reference_below": int, "flagged": bool})


def mushra_summary(ratings: pd.DataFrame, *, exclude_sessions=()) -> pd.DataFrame:
    """Per listening set, effect and condition: n, mean, median, standard deviation and 95 % CI of the mean.

    A rebuilt set keeps its trial ids but may change the conditions' settings, so sets are not pooled.

    Parameters
    ----------
    ratings : pandas.DataFrame
        From :func:`mushra_ratings`.
    exclude_sessions : iterable of str
        Assessors to leave out (e.g. those flagged by :func:`post_screening`).
    """
    kept = ratings[~ratings["session_id"].isin(list(exclude_sessions))]
    groups = kept.groupby(["listening_set", "effect", "condition"])["rating"]
    summary = groups.agg(n="size", mean="mean", median="median", std="std").reset_index()
    n = summary["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.975, n - 1) * summary["std"].to_numpy() / np.sqrt(n)
    summary["ci95_low"] = summary["mean"] - half
    summary["ci95_high"] = summary["mean"] + half
    return summary


def _rating_summary(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    rated = rows[rows["item"] == "rating"]
    return (rated.groupby(by)["value"].agg(n="size", mean="mean", median="median", std="std")
            .reset_index())


def expert1_summary(answers: pd.DataFrame) -> pd.DataFrame:
    """Expert test 1 (interpolation): per trial, n, mean, median and std of the 1–10 ratings."""
    rows = latest(answers, "expert1").assign(dataset=lambda f: _detail(f, "dataset"))
    return _rating_summary(rows, ["dataset", "trial_id"])


def expert2_attempts(answers: pd.DataFrame) -> pd.DataFrame:
    """Expert test 2: attempts (map clicks) per session and trial.

    Returns
    -------
    pandas.DataFrame
        Columns ``session_id``, ``trial_id``, ``attempts``.
    """
    rows = answers[(answers["test"] == "expert2") & (answers["item"] == ATTEMPT)]
    return rows.groupby(["session_id", "trial_id"]).size().rename("attempts").reset_index()


def expert2_summary(answers: pd.DataFrame) -> pd.DataFrame:
    """Expert test 2 (semantic control): per prompt, the ease ratings (1–10) and the mean attempts."""
    rows = latest(answers, "expert2").assign(dataset=lambda f: _detail(f, "dataset"),
                                             prompt=lambda f: _detail(f, "prompt"))
    summary = _rating_summary(rows, ["dataset", "trial_id", "prompt"])
    rated = rows[rows["item"] == "rating"][["session_id", "trial_id"]]
    attempts = rated.merge(expert2_attempts(answers), how="left").fillna({"attempts": 0})
    mean_attempts = attempts.groupby("trial_id")["attempts"].mean().rename("mean_attempts")
    return summary.merge(mean_attempts, left_on="trial_id", right_index=True, how="left")


def questionnaire_summary(answers: pd.DataFrame) -> pd.DataFrame:
    """Questionnaire: per item, n, mean, median and std of the 1–10 answers."""
    rows = latest(answers, "questionnaire")
    rows = rows[rows["value"].notna()]
    return rows.groupby("item")["value"].agg(n="size", mean="mean", median="median", std="std").reset_index()


def questionnaire_comments(answers: pd.DataFrame) -> pd.DataFrame:
    """Questionnaire: the free comments that are not empty (``session_id``, ``comment``)."""
    rows = latest(answers, "questionnaire")
    rows = rows[rows["item"] == "comments"]
    comments = pd.DataFrame({"session_id": rows["session_id"],
                             "comment": [str(c or "").strip() for c in _detail(rows, "comments")]})
    return comments[comments["comment"] != ""].reset_index(drop=True)


def expert_positions(answers: pd.DataFrame) -> pd.DataFrame:
    """Where expert-test answers were given on the map.

    Returns
    -------
    pandas.DataFrame
        Columns ``session_id``, ``test``, ``trial_id``, ``dataset``, ``k`` (supervised
        points of the map), ``role`` (``"C"`` for the rated midpoint of test 1,
        ``"attempt"`` or ``"final"`` for test 2), ``index`` (point), ``x``, ``y``, ``value``
        (the rating, NaN for attempts).
    """
    rows = []
    for answer in latest(answers).itertuples(index=False):
        payload = answer.payload
        if answer.test == "expert1" and answer.item == "rating":
            point, role = payload.get("c"), "C"
        elif answer.test == "expert2" and answer.item in (ATTEMPT, "rating"):
            point, role = payload.get("point"), "attempt" if answer.item == ATTEMPT else "final"
        else:
            continue
        if not point:
            continue
        rows.append({"session_id": answer.session_id, "test": answer.test, "trial_id": answer.trial_id,
                     "dataset": payload.get("dataset"), "k": payload.get("k"), "role": role,
                     "index": point.get("index"), "x": point.get("x"), "y": point.get("y"),
                     "value": answer.value})
    columns = ["session_id", "test", "trial_id", "dataset", "k", "role", "index", "x", "y", "value"]
    return pd.DataFrame(rows, columns=columns)


def password_matches(entered: str | None, expected: str | None) -> bool:
    """Whether an entered admin password is the expected one (constant-time; False when either is unset)."""
    if not entered or not expected:
        return False
    return hmac.compare_digest(entered.encode(), expected.encode())


ONE_TRUE = "model_one_true"
"""Key of the evaluation's per-parameter MRSTFT of the model with that one setting true."""


def evaluation_tables(report: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The objective evaluation (``evaluation.json``, written by ``evaluate``) as tables.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"per effect"``: one row per effect, nested figures as columns named by their
        path (``"mrstft.model"``, ``"param_mae.random"``); ``"model with one setting true"``
        (when present): columns ``effect``, ``parameter``, ``mrstft``: the model's MRSTFT with
        that one setting replaced by the true one; ``"latent"`` (when present): columns
        ``figure``, ``effect``, ``parameter``, ``value``: the k-NN effect accuracy, then each
        effect's and parameter's linear-probe R².

    Raises
    ------
    ValueError
        When the report has no ``"effects"`` object of figures per effect.
    """
    per_effect = report.get("effects") if isinstance(report, Mapping) else None
    if not isinstance(per_effect, Mapping) or not per_effect:
        raise ValueError("evaluation results must be a JSON object with an 'effects' object of figures per effect")
    per_effect = {name: figures for name, figures in per_effect.items() if isinstance(figures, Mapping)}
    rows = {name: pd.json_normalize({k: v for k, v in figures.items() if k != ONE_TRUE}, sep=".").iloc[0]
            for name, figures in per_effect.items()}
    tables = {"per effect": pd.DataFrame.from_dict(rows, orient="index").rename_axis("effect").reset_index()}
    one_true = [{"effect": name, "parameter": param, "mrstft": distance} for name, figures in per_effect.items()
                if isinstance(figures.get(ONE_TRUE), Mapping) for param, distance in figures[ONE_TRUE].items()]
    if one_true:
        tables["model with one setting true"] = pd.DataFrame(one_true)
    latent = report.get("latent")
    if isinstance(latent, Mapping):
        rows = []
        for suffix, figures in (("", latent), (" within one window", latent.get("one_window"))):
            if not isinstance(figures, Mapping):
                continue
            rows.append({"figure": "knn_effect_accuracy" + suffix, "effect": None, "parameter": None,
                         "value": figures.get("knn_effect_accuracy")})
            rows += [{"figure": "probe_r2" + suffix, "effect": effect, "parameter": param, "value": r2}
                     for effect, params in (figures.get("probe_r2") or {}).items() for param, r2 in params.items()]
        tables["latent"] = pd.DataFrame(rows)
    return tables


def mushra_figure(ratings: pd.DataFrame) -> go.Figure:
    """Box plots of the MUSHRA ratings per effect (x) and condition (colour), 0–100."""
    order = [HIDDEN_REFERENCE, *sorted(set(ratings["condition"]) - {HIDDEN_REFERENCE, ANCHOR}), ANCHOR]
    figure = px.box(ratings, x="effect", y="rating", color="condition", points="all",
                    category_orders={"condition": order}, labels={"rating": "rating (0–100)"})
    figure.update_layout(boxmode="group", yaxis_range=[0, 100], margin={"t": 30})
    return figure


def answers_map_figure(coords: np.ndarray, positions: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """A dataset's map with the expert-test answers drawn where they were given.

    Parameters
    ----------
    coords : numpy.ndarray
        N×2 map coordinates of the dataset (the projection the answers were given on).
    positions : pandas.DataFrame
        Rows of :func:`expert_positions` for this dataset and map.
    """
    figure = map_figure(coords, title=title)
    styles = {"C": ("diamond", "#1f77b4"), "attempt": ("circle-open", "#ff7f0e"), "final": ("star", "#d62728")}
    for role, rows in positions.groupby("role", sort=False):
        symbol, colour = styles.get(role, ("x", "#2ca02c"))
        hover = [f"{test} {trial} · {session}" + ("" if pd.isna(value) else f" · rating {value:g}")
                 for test, trial, session, value in zip(rows["test"], rows["trial_id"], rows["session_id"],
                                                        rows["value"], strict=True)]
        figure.add_trace(go.Scatter(x=rows["x"], y=rows["y"], mode="markers", name=str(role), text=hover,
                                    hovertemplate="%{text}<extra></extra>",
                                    marker={"symbol": symbol, "size": 12, "color": colour}))
    figure.update_layout(showlegend=True)
    return figure
