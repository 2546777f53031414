"""The demo project's login and API token, printed for ``make run``, which runs this last,
just before the server starts, so that they are the last lines on screen."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from evaluations.models import ApiToken, Membership
from evaluations.services import projects

# The name of the token this command makes: each run revokes the ones made before it, so
# restarting the demo does not leave a trail of live tokens.
TOKEN_NAME = "make-run-demo"
EARLIER_NAMES = (TOKEN_NAME, "setup_demo")  # "setup_demo": the name it used to make them with


class Command(BaseCommand):
    help = (
        "Create the demo project, a login for it (new password each time) and an API token "
        "(revoking the one made the time before)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo")
        parser.add_argument("--username", default="demo")

    def handle(self, *args, project, username, **options):
        project_row, _ = projects.ensure_project(name=project)
        password = secrets.token_urlsafe(9)
        projects.ensure_member(
            project=project_row, username=username, password=password, role=Membership.Role.OWNER
        )
        earlier = ApiToken.objects.active().filter(project=project_row, name__in=EARLIER_NAMES)
        for token_id in earlier.values_list("pk", flat=True):
            projects.revoke_token(project=project_row, token_id=token_id, by=None)
        # The demo walks through every call in the README, pinning and triage included.
        _, secret = projects.create_token(project=project_row, name=TOKEN_NAME, scope="admin")
        self.stdout.write(
            f"\nProject:   {project}\n"
            f"Dashboard: {settings.SITE_URL}/  (login: {username} / {password})\n"
            f"API docs:  {settings.SITE_URL}/api/v1/docs/\n"
            f"API token: {secret}\n"
        )
