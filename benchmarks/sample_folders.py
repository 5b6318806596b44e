"""``python -m benchmarks.sample_folders``: see :mod:`benchmarks.data.sample_folders`."""

import sys

from benchmarks.data.sample_folders import main

if __name__ == "__main__":
    sys.exit(main())
