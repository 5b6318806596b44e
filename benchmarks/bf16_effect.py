"""``python -m benchmarks.bf16_effect``: entry point of :mod:`benchmarks.perf.bf16_effect`."""

import sys

from benchmarks.perf.bf16_effect import main

if __name__ == "__main__":
    sys.exit(main())
