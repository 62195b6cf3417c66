"""Figures shared by the pages."""

import numpy as np

from dafx_explorer import sources, ui

STREAMLIT_PLACEHOLDERS = {f"#{i:06d}" for i in range(1, 11)}
"""Colours Streamlit's chart code replaces with theme colours (#000001 … #000010)."""


def test_spectrogram_figure_has_one_panel_per_signal_and_no_placeholder_colours():
    clip = sources.generate("bass", seed=4, seconds=3.0)
    figure = ui.spectrogram_figure({"input": clip, "silence": np.zeros(1000, dtype=np.float32)})
    assert [trace.type for trace in figure.data] == ["heatmap", "heatmap"]
    assert [a.text for a in figure.layout.annotations] == ["input", "silence"]
    colours = {colour.lower() for _, colour in figure.layout.coloraxis.colorscale}
    assert not colours & STREAMLIT_PLACEHOLDERS
    assert figure.layout.coloraxis.cmin < figure.layout.coloraxis.cmax


def test_wav_bytes_keep_the_level():
    import io

    import soundfile as sf

    quiet = 0.05 * np.sin(np.linspace(0, 200 * np.pi, 24_000)).astype(np.float32)
    samples, rate = sf.read(io.BytesIO(ui.wav_bytes(quiet)), dtype="float32")
    assert rate == 24_000 and abs(np.max(np.abs(samples)) - 0.05) < 1e-3  # not peak-normalized
