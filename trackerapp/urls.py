from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from evaluations import views
from evaluations.views import (
    accounts,
    experiments,
    exports,
    metrics,
    missed,
    overview,
    registered_models,
)

urlpatterns = [
    path("", overview.home, name="home"),
    path("projects/<slug:project_name>/", overview.project_page, name="project-page"),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/",
        registered_models.model_page,
        name="model-page",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/compare/",
        registered_models.compare_page,
        name="compare-page",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/baseline/",
        registered_models.pin_page,
        name="pin-baseline",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/export/series/",
        exports.series_download,
        name="export-series",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/export/runs/",
        exports.runs_download,
        name="export-runs",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/export/compare/",
        exports.compare_download,
        name="export-compare",
    ),
    path(
        "projects/<slug:project_name>/models/<str:model_name>/missed/",
        missed.missed_marks,
        name="missed-marks",
    ),
    path("runs/<int:run_id>/", views.run_page, name="run-page"),
    path(
        "projects/<slug:project_name>/experiments/",
        experiments.experiments_page,
        name="experiments-page",
    ),
    path("experiments/<int:experiment_id>/", experiments.experiment_page, name="experiment-page"),
    path("findings/<int:finding_id>/", views.finding_page, name="finding-page"),
    path(
        "projects/<slug:project_name>/settings/",
        views.project_settings,
        name="project-settings",
    ),
    path(
        "projects/<slug:project_name>/settings/tokens/",
        views.project_tokens,
        name="project-tokens",
    ),
    path(
        "projects/<slug:project_name>/settings/members/",
        views.project_members,
        name="project-members",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("login/", accounts.ThrottledLoginView.as_view(), name="login"),
    path("password/", accounts.PasswordChangeView.as_view(), name="password-change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password-change-done",
    ),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("evaluations.api.urls")),
]

handler500 = "trackerapp.errors.server_error"

# Browsers ask for /favicon.ico whatever the pages link: sent to the pages' icon, and not
# permanently, since the icon's URL carries its content's hash.
urlpatterns.append(
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg")), name="favicon")
)
