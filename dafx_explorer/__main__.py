"""``python -m dafx_explorer`` entry point."""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle OpenMP threads sleep, not spin
from dafx_explorer.cli import main  # noqa: E402

sys.exit(main())
