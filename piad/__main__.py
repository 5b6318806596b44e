"""``python -m piad``: the ``piad`` command line (:mod:`piad.cli`)."""

from piad.cli import main

raise SystemExit(main())
