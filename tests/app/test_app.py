"""The tray app end to end: a real gated execution in moto, the real app
under Xvfb driven over WebDriver, notifications read back from dunst, the
tray menu clicked over D-Bus, the decision checked by the gate's verifier.
"""

import subprocess
import time
import uuid

from jeepney import new_method_call

from conftest import APP, dunstctl, notification_history, notifications_shown
from tray import labels, tray_menu


def unique(title):
    return f"{title} #{uuid.uuid4().hex[:6]}"


def outcome_of(app, timeout=30):
    """Waits for the signing panel's outcome; returns (kind, text)."""
    element = app.find("outcome", timeout)
    return element.get_attribute("data-outcome"), element.text


def close_outcome(app):
    app.find("outcome-close").click()
    app.wait(lambda: not app.find_all("signing-panel"), 10, "the signing panel stayed open")


def open_from_notification(app, title):
    app.wait(lambda: notifications_shown() >= 1, 60, "no notification was shown")
    dunstctl("action", "0")
    app.wait(lambda: title in app.find("detail-title").text, 20, "the notification did not open the request")
    # Closed notifications go to dunst's history, where they can be read.
    dunstctl("close-all")


def test_approve_from_the_notification(world, app):
    dunstctl("close-all")
    title = unique("Deploy api v2.3 to prod")
    execution = world.request(
        title,
        {"service": "api", "version": "2.3.0", "commit": "4f1c2e9", "changes": ["rate limits", "db index"]},
    )
    open_from_notification(app, title)
    shown = [n for n in notification_history() if n["appname"] == "Tapprove"]
    assert any(title.split(" #")[0] in n["summary"] for n in shown), shown
    assert any("Requested by alice" in n["body"] for n in shown), shown
    assert "alice" in app.find("detail-requester").text
    assert app.find("detail-hash").text.strip()
    app.screenshot("detail")

    app.find("approve").click()
    kind, text = outcome_of(app)
    app.screenshot("signing-outcome")
    assert kind == "delivered", text
    close_outcome(app)

    status = world.status(execution)
    assert status["status"] == "SUCCEEDED", status


def test_deny_needs_a_reason_and_fails_the_execution(world, app):
    dunstctl("close-all")
    title = unique("Drop table sessions")
    execution = world.request(title, {"sql": "DROP TABLE sessions"})
    open_from_notification(app, title)
    deny = app.find("deny")
    assert not deny.is_enabled(), "deny must wait for a reason"
    app.find("reason").send_keys("not during the freeze")
    app.wait(lambda: app.find("deny").is_enabled(), 5, "typing a reason did not enable deny")
    app.find("deny").click()
    kind, text = outcome_of(app)
    assert kind == "delivered", text
    close_outcome(app)

    status = world.status(execution)
    assert (status["status"], status["error"]) == ("FAILED", "Tapprove.Denied"), status


def test_hostile_request_renders_inert_and_the_app_stays_responsive(world, app):
    marker = uuid.uuid4().hex[:6]
    title = f'<img src=x onerror="window.__pwned=1">Deploy \u202egnp.exe\u202c <script>window.__pwned=2</script> #{marker}'
    big = {f"key{i:05d}": "x" * 180 for i in range(1100)}  # about 215 KiB
    details = {
        "html": '<a href="javascript:window.__pwned=3">click</a><iframe src="https://example.com"></iframe>',
        "bidi": "approve \u202eyfirev\u202c now",
        "nested": {"deeper": {"svg": '<svg onload="window.__pwned=4"></svg>'}},
        "big": big,
    }
    world.request(title, details)
    app.go("/inbox")
    item = app.wait(
        lambda: next((e for e in app.find_all("inbox-item") if marker in e.text), None),
        60,
        "the hostile request never reached the inbox",
    )
    started = time.monotonic()
    item.click()
    heading = app.find("detail-title")
    app.find("details-tree")
    opened = time.monotonic() - started

    # Shown as text, with the hidden characters made visible.
    assert "<img" in heading.text and "<script>" in heading.text, heading.text
    assert "U+202E" in heading.text, heading.text
    app.find("bidi-warning")
    driver = app.driver
    assert driver.execute_script("return window.__pwned") is None
    for tag in ("img", "script", "iframe", "svg", "a[href^='javascript']"):
        found = driver.execute_script(
            "return document.querySelectorAll(arguments[0]).length",
            f'[data-testid="details-tree"] {tag}, [data-testid="detail-title"] {tag}',
        )
        assert found == 0, f"{tag} from the request became an element"
    tree_text = app.find("details-tree").text
    assert "<iframe" in tree_text or "html" in tree_text, tree_text[:500]
    app.screenshot("detail-hostile")

    # Responsive: the raw view of the 215 KiB document toggles promptly.
    started = time.monotonic()
    app.find("raw-toggle").click()
    raw = app.find("raw-view")
    assert "key01099" in raw.text
    toggled = time.monotonic() - started
    app.find("raw-toggle").click()
    assert opened < 10 and toggled < 10, (opened, toggled)


def test_tray_menu_lists_the_request_and_opens_it(world, app):
    title = unique("Rotate prod TLS certificate")
    world.request(title, {"domain": "api.example.com"})
    marker = title.split("#")[1]
    app.go("/inbox")
    app.wait(lambda: any(marker in e.text for e in app.find_all("inbox-item")), 60, "no inbox item")

    def entry():
        # The tray host may still be (re)registering the item: retry.
        try:
            conn, menu, layout = tray_menu()
        except (AssertionError, ValueError, IndexError, TypeError):
            return None
        found = [(i, label) for i, label in labels(layout) if marker in label]
        return (conn, menu, found[0]) if found else None

    try:
        conn, menu, (entry_id, label) = app.wait(entry, 20, "the tray menu does not list the request")
    except Exception:
        try:
            seen = [label for _, label in labels(tray_menu()[2])]
        except Exception as e:  # the menu could not be read at all
            seen = f"unreadable: {e!r}"
        inbox = [e.text for e in app.find_all("inbox-item")]
        raise AssertionError(f"the tray menu does not list {marker}: it shows {seen}; the inbox shows {inbox}") from None
    everything = [label for _, label in labels(tray_menu()[2])]
    for expected in ("Open Tapprove", "Pause notifications for 1 hour", "Quit Tapprove"):
        assert expected in everything, everything
    app.go("/history")
    conn.send_and_get_reply(
        new_method_call(menu, "Event", "isvu", (entry_id, "clicked", ("i", 0), 0))
    )
    app.wait(lambda: marker in app.find("detail-title").text, 20, "the tray entry did not open the request")


def test_sign_in_and_settings_screens(app):
    app.go("/sign-in")
    app.find("nav-sign-in")
    time.sleep(0.5)
    app.screenshot("sign-in")
    app.go("/settings")
    rows = app.wait(lambda: app.find_all("setting-row"), 10, "no settings shown")
    assert any(r.get_attribute("data-key") == "rp_id" for r in rows), [r.get_attribute("data-key") for r in rows]
    app.go("/inbox")
    app.find("nav-inbox")
    time.sleep(0.5)
    app.screenshot("inbox")


def test_authenticators_come_from_the_registry_and_can_be_renamed(world, app):
    app.go("/authenticators")
    app.wait(
        lambda: any(i.get_attribute("data-status") == "active" for i in app.find_all("authenticator-item")),
        20,
        "bob's registered credential was not listed from the enrolment service",
    )
    item = app.find("authenticator-item")
    assert item.get_attribute("data-kind") == "software", item.get_attribute("outerHTML")
    new_label = unique("laptop renamed")
    app.find("rename").click()
    field = app.find("rename-label")
    field.clear()
    field.send_keys(new_label)
    app.find("rename-save").click()
    app.wait(lambda: new_label in app.find("authenticator-item").text, 20, "the new label was not shown")
    listed = world.admin("admin", "credentials", "bob")
    assert [c["label"] for c in listed["credentials"]] == [new_label], listed
    app.screenshot("authenticators")

    # Linux has no platform authenticator: enrolling one says what to use,
    # and leaves nothing registered.
    from selenium.webdriver.support.ui import Select

    Select(app.find("enrol-kind")).select_by_value("platform")
    app.find("enrol-label").send_keys("this computer")
    app.find("enrol-submit").click()
    kind, text = outcome_of(app)
    assert kind == "error" and "no platform authenticator" in text, (kind, text)
    close_outcome(app)
    assert len(world.admin("admin", "credentials", "bob")["credentials"]) == 1


def open_link(app, link):
    """What a click on a link does once the package registered the scheme:
    the OS starts the app with the link as its only argument; the running
    app receives it from that second launch, which then exits."""
    second = subprocess.run([str(APP), link], env=app.env, capture_output=True, timeout=30)
    assert second.returncode == 0, second.stderr.decode()


def test_a_link_opens_its_request(world, app):
    dunstctl("close-all")
    title = unique("Rotate the prod database password")
    execution = world.request(title, {"database": "orders", "rotation": "scheduled"})
    app.wait_in_inbox(title)
    app.go("/history")
    app.find("nav-history")
    # A chat message from the pipeline carries the execution's name.
    open_link(app, f"tapprove://request/{execution.rsplit(':', 1)[-1]}")
    app.wait(lambda: title in app.find("detail-title", 60).text, 60, "the link did not open the request")
    assert "#/request/" in app.driver.current_url
    app.screenshot("deep-link")

    # A link that is not one of Tapprove's: the inbox, and a notification saying why.
    open_link(app, "tapprove://admin/delete-everything")
    app.find("nav-inbox")
    app.wait(lambda: "#/inbox" in app.driver.current_url, 20, "a bad link did not fall back to the inbox")
    app.wait(lambda: notifications_shown() >= 1, 20, "no notification explained the bad link")
    dunstctl("close-all")
    shown = [n for n in notification_history() if n["summary"] == "This link cannot be opened"]
    assert shown and "does not know this link" in shown[0]["body"], notification_history()[:3]
