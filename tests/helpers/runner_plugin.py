"""Plugin module for the runner's subprocess tests: ``PIAD_PLUGINS=runner_plugin``."""

from runner_fakes import register

register()
