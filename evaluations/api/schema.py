"""OpenAPI description of the bearer-token scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ProjectTokenScheme(OpenApiAuthenticationExtension):
    target_class = "evaluations.api.authentication.ProjectTokenAuthentication"
    name = "projectToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A project API token (`python manage.py create_token <project>`).",
        }
