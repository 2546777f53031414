"""Projects (a team's space), their members and API tokens."""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from evaluations.analysis.sensitivity import DEFAULT_SENSITIVITY, SENSITIVITIES

NAME_MAX_LENGTH = 200


def default_long_lived_branches():
    return ["release/*", "release-*"]


class Project(models.Model):
    """A team's space: its models, members and API tokens."""

    name = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Branches: runs without one go to the default; trend analysis and alerts run on the
    # default branch and on long-lived ones (names matching ``long_lived_branches``, glob
    # patterns, or marked so), and on every branch with ``analyse_every_branch``; a branch with
    # no run for ``archive_branches_after_days`` leaves the lists (never deleted).
    default_branch = models.CharField(max_length=NAME_MAX_LENGTH, default="main")
    long_lived_branches = models.JSONField(default=default_long_lived_branches, blank=True)
    analyse_every_branch = models.BooleanField(default=False)
    archive_branches_after_days = models.PositiveIntegerField(default=30)
    # How eager the trend analysis is (``analysis.sensitivity``): owners choose, and the
    # project's series are analysed again under a new choice.
    sensitivity = models.CharField(
        max_length=16, choices=[(name, name) for name in SENSITIVITIES], default=DEFAULT_SENSITIVITY
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in a project. Owners manage members, tokens and settings; members also
    pin baselines and triage findings; viewers only read."""

    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"
        VIEWER = "viewer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        """Tokens the API accepts: neither revoked nor expired."""
        unexpired = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        return self.filter(unexpired, revoked_at__isnull=True)

    def for_secret(self, secret):
        return self.active().select_related("project").filter(digest=token_digest(secret)).first()


def token_digest(secret):
    # Tokens are 256-bit random strings, so a fast unsalted hash is safe (no brute force).
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A project's API token. Only its SHA-256 digest is stored; the secret is shown once."""

    class Scope(models.TextChoices):
        # A CI secret leaks more easily than a person's login: ``ingest`` posts and reads but
        # cannot move the goalposts (rules, baselines, marks, triage) nor read alert addresses.
        INGEST = "ingest"
        ADMIN = "admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.INGEST)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Empty for tokens made by a command.",
    )  # fmt: skip
    # Recorded at most once a minute (see evaluations/api/authentication.py).
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self):
        return f"{self.project} {self.prefix}… {self.name}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def allows(self, scope) -> bool:
        """Whether this token may make a call that needs ``scope`` (admin includes ingest)."""
        return self.scope == self.Scope.ADMIN or scope == self.Scope.INGEST
