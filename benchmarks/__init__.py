"""The reproduction machinery: datasets, protocols, suites, runner, reports."""
