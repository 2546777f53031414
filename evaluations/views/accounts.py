"""Logging in, throttled against password guessing, and the password change and reset pages
(Django's own views with this site's templates)."""

import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.urls import reverse_lazy

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _failures_key(request):
    # Per username and address: one guesser cannot lock everyone out of an account from
    # elsewhere, and cannot try many passwords for it. Hashed: a username may hold anything.
    username = request.POST.get("username", "").strip().lower()
    subject = f"{username}\n{request.META.get('REMOTE_ADDR', '')}"
    return "login-failures:" + hashlib.sha256(subject.encode()).hexdigest()


class ThrottledLoginView(auth_views.LoginView):
    """Django's login, answering 429 without checking the password once a username has failed
    ``MAX_FAILURES`` times from one address within ``WINDOW_SECONDS`` (counted in the cache,
    shared by every process when CACHE_URL is set)."""

    def post(self, request, *args, **kwargs):
        if cache.get(_failures_key(request), 0) >= MAX_FAILURES:
            minutes = WINDOW_SECONDS // 60
            context = self.get_context_data(
                form=self.get_form(),
                throttled=f"Too many failed attempts for this username: try again in up to "
                f"{minutes} minutes, or reset the password.",
            )
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        key = _failures_key(self.request)
        cache.add(key, 0, WINDOW_SECONDS)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: this failure starts a new window
            cache.set(key, 1, WINDOW_SECONDS)
        return super().form_invalid(form)


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password-change-done")


class PasswordResetView(auth_views.PasswordResetView):
    success_url = reverse_lazy("password-reset-done")
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form):
        # The link starts with SITE_URL, like every link the service mails, never with the
        # Host header of whoever asked for the reset.
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password-reset-complete")
