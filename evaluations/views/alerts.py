"""One-click unsubscribe from alert e-mails (no login: the signed token is the proof)."""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from evaluations.services import alerts


@csrf_exempt  # the link in an e-mail works without a session (RFC 8058 one-click POST)
def unsubscribe(request, token):
    if request.method == "POST":
        outcome = alerts.unsubscribe(token=token)
        if outcome is None:
            return render(request, "evaluations/unsubscribe.html", {"invalid": True}, status=400)
        channel, address = outcome
        return render(
            request, "evaluations/unsubscribe.html",
            {"done": True, "channel": channel, "address": address},
        )  # fmt: skip
    return render(request, "evaluations/unsubscribe.html", {"token": token})
