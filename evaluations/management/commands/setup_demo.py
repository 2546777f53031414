import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from evaluations.models import Membership
from evaluations.services import projects


class Command(BaseCommand):
    help = "Create the demo project, a login for it (new password each time) and an API token."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo")
        parser.add_argument("--username", default="demo")

    def handle(self, *args, project, username, **options):
        project_row, _ = projects.ensure_project(name=project)
        password = secrets.token_urlsafe(9)
        projects.ensure_member(
            project=project_row, username=username, password=password, role=Membership.Role.OWNER
        )
        # The demo walks through every call in the README, pinning and triage included.
        _, secret = projects.create_token(project=project_row, name="setup_demo", scope="admin")
        self.stdout.write(
            f"\nProject:   {project}\n"
            f"Dashboard: {settings.SITE_URL}/  (login: {username} / {password})\n"
            f"API docs:  {settings.SITE_URL}/api/v1/docs/\n"
            f"API token: {secret}\n"
        )
