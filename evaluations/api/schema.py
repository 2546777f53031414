"""OpenAPI description of the bearer-token scheme and of the scope each operation needs."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from evaluations.api.permissions import scope_needed


class ProjectTokenScheme(OpenApiAuthenticationExtension):
    target_class = "evaluations.api.authentication.ProjectTokenAuthentication"
    name = "projectToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A project API token (`python manage.py create_token <project> "
                "--scope ingest|admin`). An `ingest` token posts runs and reads; an `admin` "
                "token may also change rules, baselines, marks, triage and subscriptions."
            ),
        }


class ScopedAutoSchema(AutoSchema):
    """Every operation's description ends with the token scope it needs, so the docs answer
    "which token does my CI job need?" without a 403 first."""

    # get_operation, not get_description: extend_schema(description=...) replaces the latter.
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        scope = scope_needed(self.view, self.method) if operation else None
        if scope is not None:
            article = "an" if scope[0] in "aeiou" else "a"
            needs = f"Needs {article} `{scope}` token."
            description = operation.get("description")
            operation["description"] = f"{description}\n\n{needs}" if description else needs
        return operation
