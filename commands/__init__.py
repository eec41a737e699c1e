"""CLI command groups; each module has `register(app)` and is wired in `cli.py`."""
