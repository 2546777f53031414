"""Projects, their members and their API tokens."""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from evaluations.models import ApiToken, Membership, Project, token_digest

TOKEN_PREFIX = "mt_"


def ensure_project(*, name) -> tuple[Project, bool]:
    return Project.objects.get_or_create(name=name)


def create_token(*, project, name="") -> tuple[ApiToken, str]:
    """A new token for ``project``; the secret is returned once and only its digest kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        project=project, name=name, prefix=secret[:10], digest=token_digest(secret)
    )
    return token, secret


@transaction.atomic
def ensure_member(*, project, username, password=None, role=Membership.Role.MEMBER):
    """The user ``username`` (created if needed) as a member of ``project``; a given
    password replaces the current one."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": role})
    return user
