#!/usr/bin/env python
"""Run a whole table of the PIAD paper: ``python run_all.py --suite table2``.

With no arguments it runs the ``quick`` suite (offline, CPU, minutes). ``--help`` lists every
option; the same entry point is installed as the ``piad-run`` command.
"""

from benchmarks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
