"""Forms of the pages."""

import unicodedata

from django import forms
from django.core.validators import validate_email

from evaluations import downloads
from evaluations.analysis.sensitivity import SENSITIVITIES
from evaluations.models import ALERT_KINDS, NAME_MAX_LENGTH, Channel, EvaluationRun
from evaluations.services import alerts

ENVIRONMENT_CHOICES = EvaluationRun.Environment.choices


class ChannelForm(forms.Form):
    """A channel as the settings page adds it: e-mail to addresses (and the members), or a
    webhook, Slack or Teams URL."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(
        choices=Channel.Kind.choices, initial=Channel.Kind.EMAIL, required=False
    )
    emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E-mail: addresses, one per line or separated by commas.",
    )
    include_members = forms.BooleanField(required=False, label="Also the project's members")
    url = forms.URLField(
        required=False, max_length=2000, assume_scheme="https", label="URL",
        help_text="Webhook, Slack, Teams: the URL to post to (kept secret, shown masked).",
    )  # fmt: skip
    secret = forms.CharField(
        required=False, min_length=alerts.MIN_SECRET, max_length=200, widget=forms.PasswordInput,
        help_text="Webhook: the signing secret, at least 16 characters.",
    )  # fmt: skip
    models = forms.CharField(
        required=False, help_text="Model names separated by commas; empty: every model."
    )
    kinds = forms.MultipleChoiceField(
        required=False,
        choices=ALERT_KINDS,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every kind.",
    )
    notify_recovered = forms.BooleanField(required=False, label="Also tell when it recovers")

    def clean_emails(self):
        addresses = [a.strip() for a in self.cleaned_data["emails"].replace(",", "\n").split()]
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(f"{address!r} is not an e-mail address.") from None
        return addresses

    def clean_models(self):
        return [name.strip() for name in self.cleaned_data["models"].split(",") if name.strip()]

    def clean(self):
        data = super().clean()
        data["kind"] = data.get("kind") or Channel.Kind.EMAIL
        problem = alerts.channel_problem(
            kind=data["kind"], url=data.get("url") or "", secret=data.get("secret") or "",
            emails=data.get("emails") or [], include_members=data.get("include_members", False),
        )  # fmt: skip
        if problem is not None:
            self.add_error(*problem)
        return data

    def channel_fields(self) -> dict:
        data = self.cleaned_data
        fields = {
            "name": data["name"], "kind": data["kind"], "model_names": data["models"],
            "kinds": data["kinds"], "notify_recovered": data["notify_recovered"],
        }  # fmt: skip
        if data["kind"] == Channel.Kind.EMAIL:
            return fields | {"emails": data["emails"], "include_members": data["include_members"]}
        secret = data["secret"] if data["kind"] == Channel.Kind.WEBHOOK else ""
        return fields | {"url": data["url"], "secret": secret}


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        label="Token name",
        help_text="Where it will be used, e.g. github-actions.",
    )
    scope = forms.ChoiceField(
        choices=[
            ("ingest", "ingest: post runs and read (what a CI job needs)"),
            ("admin", "admin: also rules, baselines, marks, triage and alert channels"),
        ],
        initial="ingest",
        required=False,
        widget=forms.RadioSelect,
    )
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires in (days)",
        help_text="Empty: never expires.",
    )  # fmt: skip

    def clean_scope(self):
        # Nothing chosen is the safe default, as with create_token.
        return self.cleaned_data["scope"] or "ingest"


ROLE_CHOICES = [
    ("member", "member: reads, pins baselines, triages findings, edits alert channels"),
    ("viewer", "viewer: reads only"),
    ("owner", "owner: also manages members and API tokens"),
]


class MemberAddForm(forms.Form):
    user = forms.CharField(
        max_length=254, label="Username or e-mail", help_text="Of someone who already has a login."
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="member", widget=forms.RadioSelect)


class MemberRoleForm(forms.Form):
    user_id = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)

    def clean(self):
        data = super().clean()
        if "remove" not in self.data and not data.get("role"):
            self.add_error("role", "Choose a role.")
        return data


class DatasetQueryForm(forms.Form):
    """A page's dataset, in the URL so that a view can be shared."""

    dataset = forms.CharField(required=False, max_length=200)
    dataset_version = forms.CharField(required=False, max_length=200)
    # The dataset selector's "name@@version" (the page's script turns it into the two above).
    dataset_choice = forms.CharField(required=False, max_length=410)
    # The line of history: a branch (the project's default when empty) and an environment.
    branch = forms.CharField(required=False, max_length=200)
    environment = forms.ChoiceField(required=False, choices=[("", "offline"), *ENVIRONMENT_CHOICES])

    def clean(self):
        data = super().clean()
        if data.get("dataset_choice"):
            data["dataset"], _, data["dataset_version"] = data["dataset_choice"].partition("@@")
        return data


class ChartQueryForm(DatasetQueryForm):
    """The model page's selectors."""

    LAST_CHOICES = [("", "all"), ("50", "last 50"), ("200", "last 200"), ("1000", "last 1,000")]

    slice = forms.CharField(required=False, max_length=200)
    last = forms.TypedChoiceField(
        required=False, choices=LAST_CHOICES, coerce=int, empty_value=None, label="Versions"
    )
    # Another line drawn beneath: a branch (a pull request's over the main line) or an
    # environment (production over offline).
    over = forms.CharField(required=False, max_length=200, label="Draw over branch")
    over_environment = forms.ChoiceField(
        required=False, choices=[("", "same"), *ENVIRONMENT_CHOICES], label="over environment"
    )


class CompareQueryForm(DatasetQueryForm):
    a = forms.CharField(required=False, max_length=200, label="Version A")
    b = forms.CharField(required=False, max_length=200, label="Version B")


class ExportForm(forms.Form):
    """The file a download link asks for: CSV unless told."""

    format = forms.ChoiceField(required=False, choices=[("csv", "CSV"), ("parquet", "Parquet")])

    def clean_format(self):
        chosen = self.cleaned_data["format"] or "csv"
        if chosen == "parquet" and not downloads.parquet_available():
            raise forms.ValidationError(downloads.PARQUET_UNAVAILABLE)
        return chosen


class SeriesExportForm(ExportForm, DatasetQueryForm):
    metric = forms.CharField(max_length=NAME_MAX_LENGTH)
    slice = forms.CharField(required=False, max_length=NAME_MAX_LENGTH)


class RunsExportForm(ExportForm, DatasetQueryForm):
    pass


class CompareExportForm(ExportForm, DatasetQueryForm):
    a = forms.CharField(max_length=NAME_MAX_LENGTH, label="Version A")
    b = forms.CharField(max_length=NAME_MAX_LENGTH, label="Version B")

    def clean(self):
        data = super().clean()
        if not data.get("dataset"):
            self.add_error("dataset", "Required: the dataset both versions ran on.")
        return data


class PinForm(forms.Form):
    version = forms.CharField(max_length=200)
    dataset = forms.CharField(max_length=200)
    branch = forms.CharField(required=False, max_length=200)
    dataset_version = forms.CharField(required=False, max_length=200)
    note = forms.CharField(required=False, max_length=500)
    confirmed = forms.BooleanField(required=False)


def _printable(value):
    """A name as the API takes it: no control characters (a newline in a branch name)."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise forms.ValidationError("Must not contain control characters.")


class BranchSettingsForm(forms.Form):
    """The project's branch settings, as its API's ``PATCH /api/v1/project/`` takes them."""

    MAX_PATTERNS = 50

    default_branch = forms.CharField(
        max_length=NAME_MAX_LENGTH, validators=[_printable],
        help_text="Where runs that name no branch go, and whose baseline judges the others.",
    )  # fmt: skip
    long_lived_branches = forms.CharField(
        required=False, label="Long-lived branches",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Glob patterns (release/*), one per line or separated by commas: branches "
        "whose names match are watched like the default one.",
    )  # fmt: skip
    analyse_every_branch = forms.BooleanField(
        required=False, label="Analyse every branch",
        help_text="Watch pull requests' branches too: trend analysis and alerts on each.",
    )  # fmt: skip
    archive_branches_after_days = forms.IntegerField(
        min_value=1, max_value=36500, label="Archive branches after (days)",
        help_text="A branch with no run for this long leaves the lists; it is never deleted.",
    )  # fmt: skip

    def clean_long_lived_branches(self):
        text = self.cleaned_data["long_lived_branches"].replace(",", "\n")
        patterns = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
        if len(patterns) > self.MAX_PATTERNS:
            raise forms.ValidationError(f"At most {self.MAX_PATTERNS} patterns.")
        for pattern in patterns:
            if len(pattern) > NAME_MAX_LENGTH:
                raise forms.ValidationError(f"A pattern has at most {NAME_MAX_LENGTH} characters.")
            _printable(pattern)
        return patterns

    @classmethod
    def of(cls, project):
        """The form filled with the project's settings as they are."""
        return cls(
            initial={
                "default_branch": project.default_branch,
                "long_lived_branches": "\n".join(project.long_lived_branches or []),
                "analyse_every_branch": project.analyse_every_branch,
                "archive_branches_after_days": project.archive_branches_after_days,
            }
        )


class MissedForm(DatasetQueryForm):
    """A regression the analysis missed, marked from the model page: its series (the page's
    dataset and line, a metric and a slice), the version and a note."""

    metric = forms.CharField(required=False, max_length=NAME_MAX_LENGTH, validators=[_printable])
    slice = forms.CharField(required=False, max_length=NAME_MAX_LENGTH, validators=[_printable])
    # The page's choice of a chart's series, "metric@@slice" (or the two fields above).
    series_choice = forms.CharField(required=False, max_length=410, validators=[_printable])
    version = forms.CharField(
        max_length=NAME_MAX_LENGTH, validators=[_printable],
        help_text="The version at which it should have been found.",
    )  # fmt: skip
    note = forms.CharField(
        max_length=500, validators=[_printable], help_text="What was missed, and how it was known."
    )

    def clean(self):
        data = super().clean()
        if data.get("series_choice"):
            data["metric"], _, data["slice"] = data["series_choice"].partition("@@")
        if not data.get("metric"):
            self.add_error("metric", "Required: the metric whose regression was missed.")
        data["slice"] = data.get("slice") or "overall"
        return data


class SensitivityForm(forms.Form):
    """How eager the project's trend analysis is (owners choose)."""

    sensitivity = forms.ChoiceField(choices=[(name, name) for name in SENSITIVITIES])
