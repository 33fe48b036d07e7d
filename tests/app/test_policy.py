"""The organisation's policy in the app: the keys it fixes win over the
user's settings, are shown read-only with a lock, and take effect (quiet
hours hold the notification of a request that still reaches the inbox)."""

import datetime
import os
import tempfile
import time
import uuid

import pytest

from conftest import dunstctl, launch, notification_history, notifications_shown


@pytest.fixture(scope="module")
def policy():
    # Quiet from an hour ago to an hour from now, in the app's time zone (UTC).
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(hours=1)).strftime("%H:%M")
    end = (now + datetime.timedelta(hours=1)).strftime("%H:%M")
    text = f"""
allow_software_authenticators = false

[sign_in]
kind = "sso"
start_url = "https://d-policy0000.awsapps.com/start"
region = "eu-west-1"

[notifications]
quiet_hours = {{ start = "{start}", end = "{end}" }}

[updates]
channel = "off"
"""
    handle = tempfile.NamedTemporaryFile("w", suffix="-policy.toml", delete=False)
    handle.write(text)
    handle.close()
    os.chmod(handle.name, 0o644)
    yield handle.name, start, end
    os.unlink(handle.name)


@pytest.fixture(scope="module")
def app(world, policy):
    yield from launch(world, "app-policy", TAPPROVE_POLICY=policy[0], TZ="UTC")


def rows(app):
    found = app.wait(lambda: app.find_all("setting-row"), 15, "no settings shown")
    return {r.get_attribute("data-key"): r for r in found}


def test_fixed_settings_win_and_are_shown_read_only(world, app, policy):
    path, start, end = policy
    app.go("/settings")
    shown = rows(app)
    fixed = {key for key, row in shown.items() if row.get_attribute("data-fixed") == "true"}
    assert fixed == {"allow_software_authenticators", "sign_in", "notifications", "updates"}, fixed
    # The user's file allows software authenticators; the policy's value is the one in force.
    assert "Not allowed" in shown["allow_software_authenticators"].text
    assert "d-policy0000.awsapps.com" in shown["sign_in"].text
    assert f"No notifications from {start} to {end}" in shown["notifications"].text
    assert "Off" in shown["updates"].text
    for key in fixed:
        assert "set by your organisation" in shown[key].text, shown[key].text
    assert "set by your organisation" not in shown["rp_id"].text
    assert path in app.find("policy-path").text
    app.screenshot("settings-policy")


def test_quiet_hours_hold_notifications_not_requests(world, app):
    dunstctl("close-all")
    title = f"Scale the fleet #{uuid.uuid4().hex[:6]}"
    world.request(title, {"desired": 12})
    app.wait_in_inbox(title)
    time.sleep(3)
    assert notifications_shown() == 0, dunstctl("history")
    dunstctl("close-all")
    assert not [n for n in notification_history() if title.split(" #")[0] in n["summary"]], notification_history()[:3]
    app.screenshot("inbox-quiet-hours")
