from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "Evaluations"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the tasks that evaluations.queue names)
        from .api import schema  # noqa: F401  (registers the OpenAPI auth extension)
