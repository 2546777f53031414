from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from evaluations.services import projects


class Command(BaseCommand):
    help = "Create an API token for a project (creating the project if needed). The token is "
    help += "printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project name (a slug, e.g. fraud-team)")
        parser.add_argument("--name", default="", help="A label to recognise the token by")

    def handle(self, *args, project, name, **options):
        if slugify(project) != project:
            raise CommandError(f"Project names are slugs (letters, digits, - and _): {project!r}")
        project_row, created = projects.ensure_project(name=project)
        token, secret = projects.create_token(project=project_row, name=name)
        if created:
            self.stderr.write(f"Created project {project}.")
        self.stderr.write(f"Token {token.prefix}… for project {project}. It is shown only once:")
        self.stdout.write(secret)
