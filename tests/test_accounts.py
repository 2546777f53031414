"""Logins: throttled against guessing; password change and reset by e-mail, end to end."""

import re

import pytest
from django.contrib.auth import get_user_model

LOGIN = "/login/"


@pytest.fixture
def ana(db):
    return get_user_model().objects.create_user("ana", email="ana@example.com", password="right-1")


def log_in(client, password, username="ana", address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_failures_lock_the_username_from_that_address(client, ana):
    failures = [log_in(client, f"wrong-{i}") for i in range(5)]
    locked = log_in(client, "right-1")

    assert [r.status_code for r in failures] == [200] * 5
    assert "didn't match" in failures[-1].content.decode()
    assert locked.status_code == 429
    assert "Too many failed attempts for this username" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address, or another username from the same address, is not held back.
    assert log_in(client, "right-1", address="10.0.0.2").status_code == 302


def test_another_username_from_the_same_address_is_not_locked(client, ana):
    get_user_model().objects.create_user("bo", password="bo-pass")
    for i in range(5):
        log_in(client, f"wrong-{i}")
    assert log_in(client, "bo-pass", username="bo").status_code == 302


def test_four_failures_still_let_the_right_password_in(client, ana):
    for i in range(4):
        log_in(client, f"wrong-{i}")
    assert log_in(client, "right-1").status_code == 302


def test_spelling_the_username_differently_does_not_buy_more_guesses(client, ana):
    for i, spelling in enumerate(["ana", "ANA", "Ana ", " aNa", "ana"]):
        log_in(client, f"wrong-{i}", username=spelling)
    assert log_in(client, "right-1").status_code == 429


def test_a_user_changes_their_password_from_the_top_bar(client, ana):
    client.force_login(ana)
    home = client.get("/").content.decode()
    assert 'href="/password/"' in home

    changed = client.post(
        "/password/",
        {
            "old_password": "right-1",
            "new_password1": "n3w-Secret-pw",
            "new_password2": "n3w-Secret-pw",
        },
    )

    assert changed.status_code == 302 and changed["Location"] == "/password/done/"
    ana.refresh_from_db()
    assert ana.check_password("n3w-Secret-pw")


def test_a_forgotten_password_is_reset_through_a_mailed_link(client, ana, smtp, settings):
    settings.SITE_URL = "https://tracker.example.com"
    assert 'href="/password/reset/"' in client.get(LOGIN).content.decode()

    asked = client.post("/password/reset/", {"email": "ana@example.com"})
    assert asked.status_code == 302

    ((recipients, message),) = smtp.messages
    assert recipients == ["ana@example.com"]
    body = message.get_content()
    link = re.search(r"https://tracker\.example\.com(/password/reset/\S+/)", body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "n3w-Secret-pw", "new_password2": "n3w-Secret-pw"},
    )
    assert done.status_code == 302
    assert log_in(client, "n3w-Secret-pw").status_code == 302
    assert "no longer valid" in client.get(link, follow=True).content.decode()
