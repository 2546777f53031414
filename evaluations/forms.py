"""Forms of the pages."""

from django import forms
from django.core.validators import validate_email

from evaluations.models import Finding


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=200)
    emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Addresses, one per line or separated by commas.",
    )
    include_members = forms.BooleanField(required=False, label="Also the project's members")
    models = forms.CharField(
        required=False, help_text="Model names separated by commas; empty: every model."
    )
    kinds = forms.MultipleChoiceField(
        required=False,
        choices=Finding.Kind.choices,
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
        if not data.get("emails") and not data.get("include_members"):
            self.add_error("emails", "Give at least one address, or include the members.")
        return data
