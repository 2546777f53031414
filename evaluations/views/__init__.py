"""Pages for team members (login required, own projects only) and the health check."""

from .alerts import unsubscribe
from .findings import finding_page
from .health import healthz
from .members import project_members
from .projects import home, project_settings, project_tokens
from .runs import run_page

__all__ = [
    "finding_page",
    "healthz",
    "home",
    "project_members",
    "project_settings",
    "project_tokens",
    "run_page",
    "unsubscribe",
]
