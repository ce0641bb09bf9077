"""pibench edge package."""

# The installed version, as recorded with every run. The same string as pyproject.toml's
# [project] version (tests/edge/test_version.py checks it): reading it from the installed
# metadata would load importlib.metadata (and email) on every command, ~10 ms for one string.
__version__ = "0.1.0"
