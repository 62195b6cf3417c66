"""Errors the user can cause; each message is one line saying what was wrong and what was expected."""


class DafxError(Exception):
    """Base of every user-facing error in DAFX Explorer."""


class AudioError(DafxError):
    """Audio that cannot be used: unreadable, empty, silent, too long, too large, NaN…"""


class EffectError(DafxError):
    """Unknown effect or parameter, bad parameter value, or a broken plugin file."""


class ModelError(DafxError):
    """Missing, corrupt or mismatched model weights."""


class DataError(DafxError):
    """Missing or inconsistent precomputed data."""
