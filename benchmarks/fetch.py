"""``python -m benchmarks.fetch SUITE|DATASET... [--data-root DIR] [--dry-run] [--yes]``.

Suite names expand to the datasets of the suite (:mod:`benchmarks.experiments.suites`); the
download, checks and placement are :mod:`benchmarks.data.fetch`.
"""

import sys

from benchmarks.data.fetch_cli import main
from benchmarks.experiments.suites import suite_datasets

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], suite_datasets=suite_datasets))
