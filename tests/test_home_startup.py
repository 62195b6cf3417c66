"""Home is instant (issue 23): it reads the data folder and draws; it loads no model, imports neither
pandas, torch nor UMAP, and the audio stack's warm-up starts only once the page has run."""

import json
import subprocess
import sys
import tomllib

from dafx_explorer.settings import REPO_ROOT

HEAVY = ("pandas", "torch", "librosa", "umap", "dafx_explorer.inference", "dafx_explorer.models",
         "dafx_explorer.features")
"""Modules whose import (seconds of CPU) would hold Home's first drawing up."""

# A fresh interpreter: the test process has long imported torch. The warm-up is replaced by a
# recorder, so that its background import of torch cannot race the check; so is Home's last step.
HOME_RUN = """
import json, sys
from streamlit.testing.v1 import AppTest
from dafx_explorer import home

calls, effects_tables = [], home.effects_tables
home.warm_up = lambda: calls.append("warm-up")
home.effects_tables = lambda: calls.append("effects") or effects_tables()
app = AppTest.from_file(sys.argv[1], default_timeout=60).run()
print(json.dumps({"exception": [str(e.value) for e in app.exception], "title": app.title[0].value,
                  "sections": [s.value for s in app.subheader], "calls": calls,
                  "heavy": [name for name in sys.argv[2:] if name in sys.modules]}))
"""


def test_home_loads_no_model_and_warms_up_after_drawing():
    done = subprocess.run([sys.executable, "-c", HOME_RUN, str(REPO_ROOT / "app.py"), *HEAVY], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["exception"] == [] and result["title"] == "DAFX Explorer"
    assert result["sections"] == ["Where to go", "Loaded data", "Effects"]
    assert result["heavy"] == [], f"drawing Home imported {result['heavy']}"
    assert result["calls"] == ["effects", "warm-up"], "the audio stack's warm-up is not started once, after Home"


def test_the_server_watches_no_source_files():
    """Streamlit's file watcher scans every imported module and watches the repository (its virtual
    environment and data included) after the first run: seconds before Home's run is over."""
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
