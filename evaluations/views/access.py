"""Who may see what: every page belongs to a project the user is a member of."""

from django.http import Http404

from evaluations.models import Project


def member_project(request, **lookup) -> Project:
    """The project matching ``lookup`` that the user is a member of; 404 otherwise (a
    non-member learns nothing about other teams' projects)."""
    project = Project.objects.filter(members=request.user, **lookup).distinct().first()
    if project is None:
        raise Http404("Not found.")
    return project
