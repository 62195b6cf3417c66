"""``python -m dafx_explorer`` entry point."""

import sys

from dafx_explorer.cli import main

sys.exit(main())
