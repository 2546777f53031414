"""Alert subscriptions and the record of every notification."""

import django_filters
from rest_framework import generics, serializers

from evaluations.api.permissions import AdminScope
from evaluations.models import ALERT_KINDS, AlertSubscription, Notification

from .fields import ChoiceField, NameField


class SubscriptionSerializer(serializers.ModelSerializer):
    name = NameField()
    emails = serializers.ListField(child=serializers.EmailField(), required=False, default=list)
    models = serializers.ListField(
        source="model_names", child=NameField(), required=False, default=list,
        help_text="Model names; empty: every model",
    )  # fmt: skip
    kinds = serializers.ListField(
        child=ChoiceField(choices=ALERT_KINDS), required=False, default=list,
        help_text="Finding kinds and experiment alerts (rollback, guardrail_breach, "
        "sample_ratio_mismatch); empty: every kind",
    )  # fmt: skip

    class Meta:
        model = AlertSubscription
        fields = [
            "id", "name", "emails", "include_members", "models", "kinds", "notify_recovered",
            "unsubscribed", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "unsubscribed", "created_at"]

    def validate(self, attrs):
        emails = attrs.get("emails", getattr(self.instance, "emails", []))
        members = attrs.get("include_members", getattr(self.instance, "include_members", False))
        if not emails and not members:
            raise serializers.ValidationError(
                {"emails": ["Give at least one address, or include the project's members."]}
            )
        return attrs


class SubscriptionListApi(generics.ListCreateAPIView):
    permission_classes = [AdminScope]
    serializer_class = SubscriptionSerializer
    queryset = AlertSubscription.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return AlertSubscription.objects.filter(project=self.request.auth.project).order_by("pk")

    def perform_create(self, serializer):
        serializer.save(project=self.request.auth.project)


class SubscriptionDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [AdminScope]
    serializer_class = SubscriptionSerializer
    queryset = AlertSubscription.objects.none()

    def get_queryset(self):
        return AlertSubscription.objects.filter(project=self.request.auth.project)


class NotificationSerializer(serializers.ModelSerializer):
    subscription = serializers.CharField(source="subscription.name")
    findings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    experiment = serializers.IntegerField(
        source="decision.experiment_id", allow_null=True, read_only=True,
        help_text="For an experiment alert: the experiment",
    )  # fmt: skip

    class Meta:
        model = Notification
        fields = [
            "id", "subscription", "recipient", "event", "findings", "experiment", "state",
            "attempts",
            "last_error", "subject", "created_at", "sent_at",
        ]  # fmt: skip


class NotificationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Notification.State.choices)
    finding = django_filters.NumberFilter(field_name="findings")
    experiment = django_filters.NumberFilter(field_name="decision__experiment")

    class Meta:
        model = Notification
        fields = []


class NotificationListApi(generics.ListAPIView):
    permission_classes = [AdminScope]
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    queryset = Notification.objects.none()

    def get_queryset(self):
        return (
            Notification.objects.filter(subscription__project=self.request.auth.project)
            .select_related("subscription", "decision")
            .prefetch_related("findings")
            .order_by("-created_at", "-id")
        )
