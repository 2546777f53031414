"""Who may see what: every page belongs to a project the user is a member of; what a member
may change depends on the role (owners everything, members pin and triage, viewers read)."""

from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404

from evaluations.models import Membership, Project

WRITERS = (Membership.Role.OWNER, Membership.Role.MEMBER)


def member_project(request, **lookup) -> Project:
    """The project matching ``lookup`` that the user is a member of; 404 otherwise (a
    non-member learns nothing about other teams' projects)."""
    project = Project.objects.filter(members=request.user, **lookup).distinct().first()
    if project is None:
        raise Http404("Not found.")
    return project


def role_in(project, user) -> str | None:
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def may_write(project, user) -> bool:
    """Whether the user may pin, triage and change subscriptions: pages show those controls
    only to them (a viewer who followed a link still gets require_role's 403)."""
    return role_in(project, user) in WRITERS


def require_role(request, project, roles, action):
    """403 unless the user's role in ``project`` is one of ``roles``; ``action`` says what
    was refused ("pin baselines"), so the page tells who may."""
    role = role_in(project, request.user)
    if role not in roles:
        allowed = " and ".join(f"{r}s" for r in roles)
        raise PermissionDenied(f"Only the project's {allowed} {action}; you are a {role}.")


def posted_id(value):
    """A row id from a form's button; anything but a positive bigint is a malformed request
    (a 400 page), never an error of the database."""
    try:
        row_id = int(value)
    except ValueError:
        raise BadRequest("Not a row id.") from None
    if not 0 < row_id < 2**63:
        raise BadRequest("Not a row id.")
    return row_id
