"""Alert channels (e-mail, webhook, Slack, Teams), the older e-mail subscriptions (e-mail
channels by another name) and the record of every notification. A channel's URL (a credential
for Slack and Teams) and secret are taken, never answered back in full."""

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluations.api.permissions import AdminScope
from evaluations.models import ALERT_KINDS, Channel, Notification
from evaluations.services import alerts

from .fields import ChoiceField, NameField


class AudienceSerializer(serializers.ModelSerializer):
    """What every channel has: its name, who it tells (an e-mail channel's addresses) and
    what about (models, kinds)."""

    name = NameField()
    emails = serializers.ListField(
        child=serializers.EmailField(), required=False, default=list, max_length=200
    )
    models = serializers.ListField(
        source="model_names", child=NameField(), required=False, default=list, max_length=200,
        help_text="Model names; empty: every model",
    )  # fmt: skip
    kinds = serializers.ListField(
        child=ChoiceField(choices=ALERT_KINDS), required=False, default=list,
        help_text="Finding kinds and experiment alerts (rollback, guardrail_breach, "
        "sample_ratio_mismatch); empty: every kind",
    )  # fmt: skip


class ChannelSerializer(AudienceSerializer):
    kind = ChoiceField(choices=Channel.Kind.choices, required=False, default="email")
    url = serializers.URLField(
        max_length=2000, required=False, write_only=True,
        help_text="webhook, slack, teams: where to POST (answered masked, as url_hint)",
    )  # fmt: skip
    url_hint = serializers.SerializerMethodField(help_text="The URL's host and last characters")
    secret = serializers.CharField(
        max_length=200, min_length=alerts.MIN_SECRET, required=False, write_only=True,
        help_text="webhook: the HMAC-SHA256 signing key (never answered back)",
    )  # fmt: skip
    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id", "name", "kind", "url", "url_hint", "secret", "secret_set", "emails",
            "include_members", "models", "kinds", "notify_recovered", "unsubscribed",
            "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "unsubscribed", "created_at"]

    def get_url_hint(self, channel) -> str:
        return channel.url_hint

    def get_secret_set(self, channel) -> bool:
        return bool(channel.secret)

    def validate(self, attrs):
        current = self.instance
        settings = {
            field: attrs.get(field, getattr(current, field, default))
            for field, default in (("kind", Channel.Kind.EMAIL), ("url", ""), ("secret", ""),
                                   ("emails", []), ("include_members", False))
        }  # fmt: skip
        return _checked(attrs, settings)


def _checked(attrs, settings):
    problem = alerts.channel_problem(**settings)
    if problem is not None:
        field, message = problem
        raise serializers.ValidationError({field: [message]})
    return attrs


class ChannelListApi(generics.ListCreateAPIView):
    permission_classes = [AdminScope]
    serializer_class = ChannelSerializer
    queryset = Channel.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return Channel.objects.filter(project=self.request.auth.project).order_by("pk")

    def perform_create(self, serializer):
        serializer.instance = alerts.save_channel(
            project=self.request.auth.project, **serializer.validated_data
        )


class ChannelDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [AdminScope]
    serializer_class = ChannelSerializer
    queryset = Channel.objects.none()

    def get_queryset(self):
        return Channel.objects.filter(project=self.request.auth.project)

    def perform_update(self, serializer):
        serializer.instance = alerts.save_channel(
            project=self.request.auth.project, channel=serializer.instance,
            **serializer.validated_data,
        )  # fmt: skip


class ChannelTestApi(APIView):
    """Send a test message through the channel now and say whether it went out."""

    permission_classes = [AdminScope]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ChannelTest",
            {
                "delivered": serializers.BooleanField(),
                "destinations": serializers.IntegerField(),
                "error": serializers.CharField(),
            },
        ),
    )
    def post(self, request, pk):
        channel = generics.get_object_or_404(Channel, project=request.auth.project, pk=pk)
        outcome = alerts.send_test(channel=channel)
        return Response(
            {"delivered": outcome.delivered, "destinations": outcome.destinations,
             "error": outcome.error}
        )  # fmt: skip


class SubscriptionSerializer(AudienceSerializer):
    """An e-mail channel, as the older subscriptions endpoint shows it."""

    class Meta:
        model = Channel
        fields = [
            "id", "name", "emails", "include_members", "models", "kinds", "notify_recovered",
            "unsubscribed", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "unsubscribed", "created_at"]

    def validate(self, attrs):
        settings = {
            field: attrs.get(field, getattr(self.instance, field, default))
            for field, default in (("emails", []), ("include_members", False))
        }
        return _checked(attrs, {"kind": Channel.Kind.EMAIL, **settings})


class SubscriptionListApi(ChannelListApi):
    """The project's e-mail channels (``/channels/`` has every kind)."""

    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return super().get_queryset().filter(kind=Channel.Kind.EMAIL)


class SubscriptionDetailApi(ChannelDetailApi):
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return super().get_queryset().filter(kind=Channel.Kind.EMAIL)


class NotificationSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name")
    channel_id = serializers.IntegerField()
    subscription = serializers.CharField(
        source="channel.name", help_text="The channel's name (the older field)"
    )
    findings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    experiment = serializers.IntegerField(
        source="decision.experiment_id", allow_null=True, read_only=True,
        help_text="For an experiment alert: the experiment",
    )  # fmt: skip
    delivery = serializers.UUIDField(source="batch_key", allow_null=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id", "channel", "channel_id", "subscription", "recipient", "event", "findings",
            "experiment", "state", "attempts", "last_error", "subject", "delivery",
            "created_at", "sent_at",
        ]  # fmt: skip


class NotificationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Notification.State.choices)
    finding = django_filters.NumberFilter(field_name="findings")
    experiment = django_filters.NumberFilter(field_name="decision__experiment")
    channel = django_filters.NumberFilter(field_name="channel")

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
            Notification.objects.filter(channel__project=self.request.auth.project)
            .select_related("channel", "decision")
            .prefetch_related("findings")
            .order_by("-created_at", "-id")
        )
