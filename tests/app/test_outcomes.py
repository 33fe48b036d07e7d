"""Notifications follow the request, in a world whose gate waits on the queue
source (every approver sees every request): bob runs the real app, carol
the real CLI. When carol decides, bob's notification closes (the app's
`CloseNotification` call is read off the session bus, and dunst's history
has the notification it closed) and bob's window says who decided. Bob is
not notified of a request he asked for, and cannot decide it. "I did not
expect this" ends the execution with a verified denial carrying its code.
"""

import json
import time
import tomllib
import uuid

import boto3
import pytest

from conftest import CloseCalls, dunstctl, launch, make_world, notification_history, notifications_shown, wait_for


@pytest.fixture(scope="module")
def queue_world():
    yield from make_world("queue")


@pytest.fixture(scope="module")
def team_chat(queue_world):
    """A queue subscribed to the gate's announcements (as an admin subscribes
    e-mail or AWS Chatbot); yields a function returning the announcements
    received so far."""
    settings = tomllib.loads(open(queue_world.env["TAPPROVE_CONFIG"]).read())
    topic = settings["announcements"]["topic_arn"]
    client = dict(
        endpoint_url=queue_world.env["AWS_ENDPOINT_URL"],
        region_name=queue_world.env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sqs = boto3.client("sqs", **client)
    url = sqs.create_queue(QueueName="team-chat")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", **client).subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    received = []

    def announcements():
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if not got:
                return received
            for m in got:
                received.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    yield announcements


@pytest.fixture(scope="module")
def app(queue_world):
    yield from launch(queue_world, "queue-app")


def unique(title):
    return f"{title} #{uuid.uuid4().hex[:6]}"


def inbox_id(world, who, title, timeout=60):
    """The id of `title` in `who`'s inbox (polling their queue)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for request in world.as_(who, "inbox")["requests"]:
            if request["title"] == title:
                return request["id"]
        time.sleep(1)
    raise AssertionError(f"{title} never reached {who}'s inbox")


def test_a_request_someone_else_decided_closes_its_notification_and_says_who(queue_world, app):
    dunstctl("close-all")
    closes = CloseCalls()
    try:
        title = unique("Rotate the payments signing key")
        execution = queue_world.request(title, {"key": "payments-2026"})
        # Both see it: bob's app notifies, carol's queue has it too.
        wait_for(lambda: notifications_shown() >= 1, 60, "bob's app raised no notification")
        request_id = inbox_id(queue_world, "carol", title)
        approved = queue_world.as_("carol", "approve", request_id)
        assert approved["ok"], approved
        assert queue_world.status(execution)["status"] == "SUCCEEDED"

        # Bob's notification closes within a poll: the app called
        # CloseNotification for exactly the notification it had shown.
        wait_for(lambda: notifications_shown() == 0, 60, "bob's notification stayed open")
        ours = [n for n in notification_history() if title.split(" #")[0] in n["summary"]]
        assert len(ours) == 1, notification_history()
        wait_for(lambda: ours[0]["id"] in closes.ids(), 10, f"no CloseNotification for {ours[0]['id']}: {closes.ids()}")

        # His window says who decided, instead of offering Approve/Deny.
        app.go(f"/request/{request_id}")
        outcome = app.find("detail-outcome", timeout=30)
        app.wait(lambda: "approved by carol" in outcome.text, 30, outcome.text)
        assert outcome.get_attribute("data-outcome") == "approved"
        assert not app.find_all("approve")
        app.screenshot("decided-elsewhere")
        # And his history has it, with who decided.
        app.go("/history")
        item = app.wait(
            lambda: next((e for e in app.find_all("seen-item") if e.get_attribute("data-id") == request_id), None),
            20,
            "the request is not in bob's history",
        )
        assert "approved by carol" in item.text, item.text
        assert "You did not decide" in item.text, item.text
    finally:
        closes.stop()


def test_the_requester_is_not_notified_of_their_own_request_and_cannot_approve_it(queue_world, app):
    dunstctl("close-all")
    title = unique("Open a prod shell for bob")
    # Bob asks through the request endpoint: AWS proves it is him.
    execution = queue_world.as_(
        "bob", "gate", "request", "--title", title, "--timeout", "900", "--details", '{"reason": "debugging"}'
    )["execution"]
    # The request reaches bob's inbox (his queue), which says why he cannot
    # approve it...
    item = app.wait_in_inbox(title)
    request_id = item.get_attribute("data-id")
    assert "you asked for this request" in item.text, item.text
    app.go(f"/request/{request_id}")
    assert "you cannot approve it" in app.find("detail-yours", timeout=20).text
    assert not app.find_all("approve")
    # ...and no notification was raised for it, on screen or since closed.
    time.sleep(3)
    assert notifications_shown() == 0
    assert not [n for n in notification_history() if title.split(" #")[0] in n["summary"]]
    # The CLI says the same.
    mine = next(r for r in queue_world.as_("bob", "inbox")["requests"] if r["id"] == request_id)
    assert "you asked for this request" in mine["yours"], mine

    # Carol approves it as usual.
    carol_id = inbox_id(queue_world, "carol", title)
    assert queue_world.as_("carol", "approve", carol_id)["ok"]
    assert queue_world.status(execution)["status"] == "SUCCEEDED"


def test_named_as_requester_one_hears_of_it_and_says_i_did_not_expect_this(queue_world, app, team_chat):
    """A workflow names bob as its requester; he did not ask (AWS proved
    nothing). He is notified, cannot approve it, and denies it as
    unexpected from the window: the execution fails with his verified
    denial carrying the code, and the admins' topic has the alert."""
    dunstctl("close-all")
    title = unique("Disable audit logging")
    execution = queue_world.request(title, {"change": "cloudtrail off"}, requested_by="bob")
    wait_for(lambda: notifications_shown() >= 1, 60, "bob was not notified of a request naming him")
    item = app.wait_in_inbox(title)
    app.go(f"/request/{item.get_attribute('data-id')}")
    assert "deny it as unexpected" in app.find("detail-yours", timeout=20).text
    assert not app.find_all("approve")
    app.find("unexpected").click()
    element = app.find("outcome", 30)
    assert element.get_attribute("data-outcome") == "delivered", element.text
    assert "admins are alerted" in element.text, element.text
    app.find("outcome-close").click()
    status = queue_world.status(execution)
    assert (status["status"], status["error"]) == ("FAILED", "Tapprove.Denied"), status
    cause = json.loads(status["cause"])
    assert cause["statement"]["reason_code"] == "unexpected"
    assert cause["statement"]["approver"] == "bob"
    assert "reason" not in cause["statement"]
    # The admins' topic has the alert.
    alert = wait_for(
        lambda: next(
            (
                m
                for m in team_chat()
                if m["metadata"]["eventType"] == "tapprove.unexpected" and m["metadata"]["threadId"] == execution
            ),
            None,
        ),
        30,
        "no alert reached the announcements topic",
    )
    assert "did not expect this request" in alert["content"]["title"], alert
    assert "`bob`" in alert["content"]["title"], alert
