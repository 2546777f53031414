"""Token scopes as DRF permissions: each API view says which scope each of its methods needs.

``ingest`` is what a CI job needs (post runs, dry runs, read history, baselines, comparisons,
findings); ``admin`` is everything else (rules, pinning, marks, triage, alert subscriptions).
"""

from rest_framework import permissions

from evaluations.models import ApiToken

INGEST, ADMIN = ApiToken.Scope.INGEST, ApiToken.Scope.ADMIN


class TokenScope(permissions.BasePermission):
    """Base: a project token whose scope covers ``needed(method)``; refused calls answer 403
    naming the scope they need, so whoever reads a CI log knows which token to ask for."""

    def needed(self, method) -> str:
        raise NotImplementedError

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return False
        needed = self.needed(request.method)
        if token.allows(needed):
            return True
        self.message = f"This token's scope is {token.scope}; this call needs {needed}."
        return False


class IngestScope(TokenScope):
    """Any token: the calls a CI job makes."""

    def needed(self, method):
        return INGEST


class AdminScope(TokenScope):
    """Admin tokens only, whatever the method (e.g. alert subscriptions: their addresses are
    the team's, not CI's)."""

    def needed(self, method):
        return ADMIN


class ReadIngestWriteAdmin(TokenScope):
    """Reads for any token, writes for admin tokens: the default of every API view."""

    def needed(self, method):
        return INGEST if method in permissions.SAFE_METHODS else ADMIN


def scope_needed(view, method) -> str | None:
    """The scope ``view`` needs for ``method`` (for the OpenAPI description)."""
    for permission in view.get_permissions():
        if isinstance(permission, TokenScope):
            return permission.needed(method)
    return None
