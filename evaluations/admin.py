from django.contrib import admin

from . import models
from .services import removal


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships for the rare fix by a superuser; owners manage theirs on the members page
    (which also keeps the last owner)."""

    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role", "project")
    list_select_related = ("project", "user")
    search_fields = ("user__username", "user__email", "project__name")
    raw_id_fields = ("user",)


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "project", "prefix", "name", "scope", "created_at", "expires_at", "last_used_at",
        "revoked_at",
    )  # fmt: skip
    readonly_fields = ("digest", "prefix")


@admin.register(models.RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "created_at")


@admin.register(models.EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "model_version", "dataset", "environment", "recorded_at")
    list_select_related = ("project", "model_version__model", "dataset")
    raw_id_fields = ("model_version", "dataset")

    # Through the removal service: the series' cached points, their analysis and the
    # replicate sets of the runs follow the deletion.
    def delete_model(self, request, obj):
        removal.delete_runs(run_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        removal.delete_runs(run_ids=queryset.values_list("pk", flat=True))
