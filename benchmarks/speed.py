"""``python -m benchmarks.speed``: entry point of :mod:`benchmarks.perf.speed`."""

import sys

from benchmarks.perf.speed import main

if __name__ == "__main__":
    sys.exit(main())
