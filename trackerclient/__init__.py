"""The client of the model metrics tracker: the CI command line (``python -m trackerclient``)
and ``Tracker``, its REST API from Python. Standard library only, so any CI image runs it."""

from .api import APIError, Tracker
from .http import TrackerError

__all__ = ["APIError", "Tracker", "TrackerError"]
