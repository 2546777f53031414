from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from evaluations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("runs/<int:run_id>/", views.run_page, name="run-page"),
    path("findings/<int:finding_id>/", views.finding_page, name="finding-page"),
    path(
        "projects/<slug:project_name>/settings/",
        views.project_settings,
        name="project-settings",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("evaluations.api.urls")),
]
