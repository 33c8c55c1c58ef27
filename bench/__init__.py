"""The benchmark: this app's socket engine against raw Starlette and python-socketio.

`python -m bench` (see `bench/__main__.py` and bench/README.md). The load
generator runs in this process; every server runs in its own process, pinned
to another core, started afresh for each measured run.
"""
