from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import (
    alert_views,
    baseline_views,
    branch_views,
    experiment_views,
    finding_views,
    missed_views,
    views,
)

urlpatterns = [
    path("runs/", views.RunListCreateApi.as_view(), name="api-runs"),
    path("runs/batch/", views.RunBatchApi.as_view(), name="api-runs-batch"),
    path("runs/<int:run_id>/", views.RunDetailApi.as_view(), name="api-run"),
    path("models/", views.ModelListApi.as_view(), name="api-models"),
    path("models/<str:name>/versions/", views.ModelVersionListApi.as_view(), name="api-versions"),
    path("models/<str:name>/series/", views.SeriesApi.as_view(), name="api-series"),
    path("models/<str:name>/baseline/", baseline_views.BaselineApi.as_view(), name="api-baseline"),
    path("models/<str:name>/thresholds/", baseline_views.RuleListApi.as_view(), name="api-rules"),
    path(
        "models/<str:name>/thresholds/<int:pk>/",
        baseline_views.RuleDetailApi.as_view(),
        name="api-rule",
    ),
    path("models/<str:name>/branches/", branch_views.BranchListApi.as_view(), name="api-branches"),
    path(
        "models/<str:name>/branches/<path:branch>/merge/",
        branch_views.BranchMergeApi.as_view(),
        name="api-branch-merge",
    ),
    path(
        "models/<str:name>/branches/<path:branch>/",
        branch_views.BranchDetailApi.as_view(),
        name="api-branch",
    ),
    path("project/", branch_views.ProjectSettingsApi.as_view(), name="api-project"),
    path("models/<str:name>/compare/", baseline_views.CompareApi.as_view(), name="api-compare"),
    path("models/<str:name>/marks/", finding_views.ChangeMarkListApi.as_view(), name="api-marks"),
    path("models/<str:name>/missed/", missed_views.MissedListApi.as_view(), name="api-missed"),
    path(
        "models/<str:name>/missed/<int:pk>/",
        missed_views.MissedDetailApi.as_view(),
        name="api-missed-one",
    ),
    path("experiments/", experiment_views.ExperimentListApi.as_view(), name="api-experiments"),
    path(
        "experiments/<int:experiment_id>/",
        experiment_views.ExperimentDetailApi.as_view(),
        name="api-experiment",
    ),
    path(
        "experiments/<int:experiment_id>/windows/",
        experiment_views.ExperimentWindowApi.as_view(),
        name="api-experiment-windows",
    ),
    path(
        "experiments/<int:experiment_id>/allocation/",
        experiment_views.ExperimentAllocationApi.as_view(),
        name="api-experiment-allocation",
    ),
    path(
        "experiments/<int:experiment_id>/stop/",
        experiment_views.ExperimentStopApi.as_view(),
        name="api-experiment-stop",
    ),
    path("findings/", finding_views.FindingListApi.as_view(), name="api-findings"),
    path("findings/precision/", finding_views.PrecisionApi.as_view(), name="api-precision"),
    path("findings/<int:pk>/", finding_views.FindingDetailApi.as_view(), name="api-finding"),
    *[
        path(
            f"findings/<int:pk>/{action}/",
            finding_views.FindingTriageApi.as_view(action_name=action),
            name=f"api-finding-{action}",
        )
        for action in ("acknowledge", "resolve", "false_alarm")
    ],
    path("channels/", alert_views.ChannelListApi.as_view(), name="api-channels"),
    path("channels/<int:pk>/", alert_views.ChannelDetailApi.as_view(), name="api-channel"),
    path("channels/<int:pk>/test/", alert_views.ChannelTestApi.as_view(), name="api-channel-test"),
    path("subscriptions/", alert_views.SubscriptionListApi.as_view(), name="api-subscriptions"),
    path(
        "subscriptions/<int:pk>/",
        alert_views.SubscriptionDetailApi.as_view(),
        name="api-subscription",
    ),
    path("notifications/", alert_views.NotificationListApi.as_view(), name="api-notifications"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="evaluations/api_docs.html"
        ),
        name="api-docs",
    ),
]
