from django.contrib import admin

from . import models


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("project", "prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("digest", "prefix")


@admin.register(models.RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "created_at")


@admin.register(models.EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "model_version", "dataset", "environment", "recorded_at")
    list_select_related = ("project", "model_version__model", "dataset")
    raw_id_fields = ("model_version", "dataset")
