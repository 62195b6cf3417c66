"""style_match: the settings table and the demo reference, on real effects."""

import numpy as np
import pytest

from dafx_explorer import effects, sources, style_match
from dafx_explorer.errors import EffectError
from dafx_explorer.settings import SAMPLE_RATE


def test_settings_table_has_real_values_per_parameter():
    effect = effects.get("delay")
    predicted, refined = np.linspace(0.0, 1.0, effect.n_params), np.full(effect.n_params, 0.25)
    table = style_match.settings_table(effect, predicted, refined)
    assert list(table.columns) == ["parameter", "unit", "predicted", "refined"]
    assert list(table["parameter"]) == list(effect.param_names)
    for row, param, p, r in zip(table.itertuples(), effect.params, predicted, refined, strict=True):
        assert row.unit == param.unit
        assert row.predicted == pytest.approx(param.to_real(p))
        assert row.refined == pytest.approx(param.to_real(r))


def test_settings_table_optional_columns_and_dict_settings():
    effect = effects.get("ringmod")
    table = style_match.settings_table(effect, {"carrier_hz": 1.0})
    assert list(table.columns) == ["parameter", "unit", "predicted"]
    assert table.loc[table["parameter"] == "carrier_hz", "predicted"].item() == pytest.approx(2000.0)
    with_target = style_match.settings_table(effect, effect.defaults(), target=np.zeros(effect.n_params))
    assert list(with_target.columns) == ["parameter", "unit", "predicted", "reference"]
    assert with_target.loc[0, "reference"] == pytest.approx(effect.params[0].minimum)
    with pytest.raises(EffectError):
        style_match.settings_table(effect, {"no_such_knob": 0.5})


def test_processed_reference_is_seeded_and_is_the_effect_at_those_settings():
    effect = effects.get("overdrive")
    clean = sources.generate("guitar", seed=3, seconds=1.0)
    audio, settings = style_match.processed_reference(effect, clean, seed=5)
    again, same = style_match.processed_reference(effect, clean, seed=5)
    _, other = style_match.processed_reference(effect, clean, seed=6)
    np.testing.assert_array_equal(settings, same)
    np.testing.assert_array_equal(audio, again)
    assert settings.shape == (effect.n_params,) and np.all((settings >= 0) & (settings <= 1))
    assert not np.allclose(settings, other)
    np.testing.assert_array_equal(audio, effect.render(clean, SAMPLE_RATE, settings))
    assert len(audio) == len(clean) and not np.allclose(audio, clean)
