"""``python -m piad.stats``: entry point of :mod:`piad.cli.statistics` (per-filter statistics)."""

import sys

from piad.cli.statistics import main

if __name__ == "__main__":
    sys.exit(main())
