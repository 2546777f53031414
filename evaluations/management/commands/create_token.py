"""create_token: a project's API token from the shell (the project is created if needed)."""

import argparse

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from evaluations.models import ApiToken
from evaluations.services import projects

MAX_DAYS = 3650


def _positive_days(value):
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_DAYS} days: {value!r}")
    return days


class Command(BaseCommand):
    help = "Create an API token for a project (creating the project if needed). The token is "
    help += "printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name (a slug, e.g. fraud-team)")
        parser.add_argument("--name", default="", help="A label to recognise the token by")
        parser.add_argument(
            "--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.INGEST,
            help="ingest (default): post runs and read; admin: also rules, baselines, marks, "
            "triage and alert subscriptions",
        )  # fmt: skip
        parser.add_argument(
            "--expires-in-days", type=_positive_days, default=None, metavar="N",
            help="The API refuses the token N days from now (default: never)",
        )  # fmt: skip

    def handle(self, *args, project, name, scope, expires_in_days, **options):
        if slugify(project) != project:
            raise CommandError(f"Project names are slugs (letters, digits, - and _): {project!r}")
        project_row, created = projects.ensure_project(name=project)
        token, secret = projects.create_token(
            project=project_row, name=name, scope=scope, expires_in_days=expires_in_days
        )
        if created:
            self.stderr.write(f"Created project {project}.")
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        self.stderr.write(
            f"Token {token.prefix}… ({token.scope}{expiry}) for project {project}. "
            "It is shown only once:"
        )
        self.stdout.write(secret)
