"""Projects, their members and their API tokens."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from evaluations.analysis.sensitivity import sensitivity
from evaluations.models import ApiToken, Membership, Project, Series, token_digest
from evaluations.queue import queue_analysis
from evaluations.services import series_analysis

TOKEN_PREFIX = "mt_"


def ensure_project(*, name) -> tuple[Project, bool]:
    return Project.objects.get_or_create(name=name)


def create_token(
    *, project, name="", created_by=None, scope=ApiToken.Scope.INGEST, expires_in_days=None
) -> tuple[ApiToken, str]:
    """A new token for ``project``; the secret is returned once and only its digest kept.
    ``ingest`` is the default scope: the narrower secret is the one to hand to CI."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = None
    if expires_in_days is not None:
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    token = ApiToken.objects.create(
        project=project, name=name, prefix=secret[:10], digest=token_digest(secret),
        created_by=created_by, scope=scope, expires_at=expires_at,
    )  # fmt: skip
    return token, secret


@transaction.atomic
def revoke_token(*, project, token_id, by) -> ApiToken:
    """Revoke ``project``'s token ``token_id`` (``ApiToken.DoesNotExist`` if it has no such
    token): the API refuses it from the next request on. Revoking twice keeps the first
    revocation's time and author."""
    token = ApiToken.objects.select_for_update().get(project=project, pk=token_id)
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = timezone.now(), by
        token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def may_manage_tokens(*, project, user) -> bool:
    """Owners create and revoke a project's tokens; every member may see the list."""
    return Membership.objects.filter(
        project=project, user=user, role=Membership.Role.OWNER
    ).exists()


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


class MembershipError(Exception):
    """A refused change to a project's members; ``errors`` is ``{"field": ["message"]}``."""

    def __init__(self, field, message):
        super().__init__(message)
        self.errors = {field: [message]}


@transaction.atomic
def add_member(*, project, username_or_email, role) -> Membership:
    """Add an existing user, found by username or (case-insensitively) by e-mail address."""
    users = get_user_model().objects
    found = users.filter(username=username_or_email).first()
    if found is None and "@" in username_or_email:
        matches = list(users.filter(email__iexact=username_or_email)[:2])
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise MembershipError("user", f"No single user is called {username_or_email!r}.")
    membership, created = Membership.objects.get_or_create(
        project=project, user=found, defaults={"role": role}
    )
    if not created:
        raise MembershipError("user", f"{found.get_username()} is already a member.")
    return membership


@transaction.atomic
def set_role(*, project, user_id, role) -> Membership:
    membership = _locked_membership(project, user_id)
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        _keep_an_owner(project, membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, project, user_id) -> Membership:
    membership = _locked_membership(project, user_id)
    if membership.role == Membership.Role.OWNER:
        _keep_an_owner(project, membership)
    membership.delete()
    return membership


def _locked_membership(project, user_id):
    # Every owner row is locked too: two owners demoting each other at once must not both win.
    owners = Membership.objects.select_for_update().filter(
        project=project, role=Membership.Role.OWNER
    )
    list(owners.order_by("pk"))
    membership = Membership.objects.select_for_update().filter(project=project, user_id=user_id)
    found = membership.select_related("user").first()
    if found is None:
        raise MembershipError("user", "Not a member of this project.")
    return found


def _keep_an_owner(project, membership):
    others = Membership.objects.filter(project=project, role=Membership.Role.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise MembershipError(
            "role", "The last owner cannot be removed or demoted: make another member owner first."
        )


@transaction.atomic
def set_sensitivity(*, project, name) -> list[int]:
    """Choose how eager the project's trend analysis is (``ValueError`` for an unknown name);
    a new choice makes every watched series of the project due and queues their analysis
    when the transaction commits, so findings follow the new setting at once rather than at
    the next post. Returns the series queued (none when the choice is unchanged)."""
    sensitivity(name)  # refuses an unknown name before anything is written
    locked = Project.objects.select_for_update().get(pk=project.pk)
    project.sensitivity = name
    if locked.sensitivity == name:
        return []
    Project.objects.filter(pk=project.pk).update(sensitivity=name)
    return _reanalyse(project)


def _reanalyse(project) -> list[int]:
    """Make the project's watched series due (``series_analysis.mark_due``: a job that read
    one under the old setting leaves it due) and queue those not due yet after the commit
    (the others' jobs are queued already, and read the setting when they run)."""
    ids = Series.objects.filter(model__project=project, watched=True).values_list("pk", flat=True)
    _, needing_job = series_analysis.mark_due(series_ids=list(ids))
    if needing_job:
        transaction.on_commit(lambda: queue_analysis(needing_job), robust=True)
    return needing_job
