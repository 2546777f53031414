"""Serves plotly.js from the installed plotly package as ``vendor/plotly.min.js``: the pages
work offline, and the browser library always matches the pinned Python package."""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "vendor/plotly.min.js"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        self.storage.prefix = "vendor"

    def find(self, path, find_all=False, **kwargs):
        if path != PLOTLY_JS:
            return []  # as Django's own finders answer: not None, which would read as a match
        found = self.storage.path("plotly.min.js")
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
