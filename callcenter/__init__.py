"""Hotline contact center core (12345 / 96010 接诉即办).

Core package: configuration, database, the closed-loop case workflow, dispatch, events, API and CLI.
"""

__version__ = "0.1.0"
