"""Bearer-token authentication: a token belongs to one project and sees only that project."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from evaluations.models import ApiToken

# Recording last use on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenPrincipal:
    """The caller behind a project token (there is no Django user for CI)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, token):
        self.token = token
        self.project = token.project

    def __str__(self):
        named = f" ({self.token.name})" if self.token.name else ""
        return f"token {self.token.prefix}…{named}"


class ProjectTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, secret = header.partition(" ")
        if keyword.lower() != self.keyword.lower() or not secret.strip():
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <project token>'."
            )
        token = ApiToken.objects.for_secret(secret.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # request.auth is the token itself: its scope is what the permissions check.
        return TokenPrincipal(token), token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
