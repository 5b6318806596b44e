"""Results -> tables: names, seed aggregation, paper-style tables, rendering, --check, plots,
and the AUCs the papers report (:mod:`benchmarks.reporting.reported`)."""
