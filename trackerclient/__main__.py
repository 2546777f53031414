"""``python -m trackerclient``: the CI command line (see cli.py)."""

from .cli import main

raise SystemExit(main())
