"""``python -m benchmarks.bench_baselines``: runs :mod:`benchmarks.perf.bench_baselines`."""

import sys

from benchmarks.perf.bench_baselines import main

if __name__ == "__main__":
    sys.exit(main())
