#!/usr/bin/env python3
"""Self-test of tests/peers/moto_server.py with boto3.

    python tests/peers/selftest.py

Starts the launcher as a subprocess (--port 0 --activity-poll-seconds 2) and
checks the AWS behaviour Tapprove relies on.  Prints one PASS/FAIL line per
check and a closing "N passed, N failed" line; exits non-zero on failure.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
POLL_SECONDS = 2
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/tapprove-selftest"


def log(msg: str) -> None:
    print(msg, flush=True)


def start_peer() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "moto_server.py"),
            "--port",
            "0",
            "--activity-poll-seconds",
            str(POLL_SECONDS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: lines.put(proc.stdout.readline()), daemon=True
    ).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        proc.kill()
        raise RuntimeError("moto_server.py printed no READY line within 60 s")
    if not line.startswith("READY http://"):
        proc.kill()
        raise RuntimeError(f"unexpected first line from moto_server.py: {line!r}")
    return proc, line.split()[1]


class Peer:
    def __init__(self, url: str):
        self.url = url
        self.sfn = self.client("stepfunctions")
        self.sqs = self.client("sqs")
        self.ddb = self.client("dynamodb")
        self.iam = self.client("iam")

    def client(self, service: str, key: str = "testing", secret: str = "testing"):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            # GetActivityTask long-polls; AWS advises a >= 65 s socket timeout.
            config=Config(read_timeout=70, retries={"max_attempts": 1}),
        )

    # -- Step Functions helpers -------------------------------------------------
    def state_machine(self, definition: dict) -> str:
        return self.sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:12]}",
            definition=json.dumps(definition),
            roleArn=ROLE,
        )["stateMachineArn"]

    def activity(self, prefix: str) -> str:
        return self.sfn.create_activity(name=f"{prefix}-{uuid.uuid4().hex[:8]}")[
            "activityArn"
        ]

    def start(self, sm_arn: str, data: dict) -> str:
        return self.sfn.start_execution(stateMachineArn=sm_arn, input=json.dumps(data))[
            "executionArn"
        ]

    def wait_done(self, exec_arn: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            desc = self.sfn.describe_execution(executionArn=exec_arn)
            if desc["status"] != "RUNNING":
                return desc
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"execution still RUNNING after {timeout} s: {exec_arn}"
                )
            time.sleep(0.1)

    def history(self, exec_arn: str) -> list[dict]:
        return self.sfn.get_execution_history(executionArn=exec_arn)["events"]


def activity_task_sm(activity_arn: str, timeout: int = 60, heartbeat: int | None = 30):
    task = {"Type": "Task", "Resource": activity_arn, "TimeoutSeconds": timeout, "End": True}
    if heartbeat is not None:
        task["HeartbeatSeconds"] = heartbeat
    return {"StartAt": "Approve", "States": {"Approve": task}}


def error_code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


# -----------------------------------------------------------------------------
# Checks
# -----------------------------------------------------------------------------
def check_a_activity(p: Peer) -> None:
    act = p.activity("approve")
    sm = p.state_machine(activity_task_sm(act, timeout=60, heartbeat=30))
    ex = p.start(sm, {"x": 1})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert task.get("taskToken"), f"no task token: {task}"
    assert json.loads(task["input"]) == {"x": 1}, task["input"]
    log(f"  GetActivityTask -> token {task['taskToken'][:16]}..., input {task['input']}")
    p.sfn.send_task_heartbeat(taskToken=task["taskToken"])
    log("  SendTaskHeartbeat ok")
    p.sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"ok": True}))
    desc = p.wait_done(ex, 10)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"ok": True}, desc["output"]
    log(f"  execution {desc['status']}, output {desc['output']}")
    events = [e["type"] for e in p.history(ex)]
    for expected in ("ActivityScheduled", "ActivityStarted", "ActivitySucceeded"):
        assert expected in events, events
    started = next(e for e in p.history(ex) if e["type"] == "ActivityStarted")
    assert started["activityStartedEventDetails"].get("workerName") == "selftest", started

    idle = p.activity("idle")
    t0 = time.monotonic()
    empty = p.sfn.get_activity_task(activityArn=idle, workerName="selftest")
    waited = time.monotonic() - t0
    assert not empty.get("taskToken"), empty
    assert POLL_SECONDS - 0.5 <= waited <= POLL_SECONDS + 3, waited
    body = {k: v for k, v in empty.items() if k != "ResponseMetadata"}
    log(f"  empty GetActivityTask returned after {waited:.1f} s: {body}")


def check_b_failure(p: Peer) -> None:
    act = p.activity("deny")
    sm = p.state_machine(activity_task_sm(act))
    ex = p.start(sm, {"x": 2})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert task.get("taskToken"), task
    p.sfn.send_task_failure(
        taskToken=task["taskToken"], error="Tapprove.Denied", cause="because"
    )
    desc = p.wait_done(ex, 10)
    assert desc["status"] == "FAILED", desc
    log(f"  describe_execution: status {desc['status']}, error {desc.get('error')!r}, cause {desc.get('cause')!r}")
    assert desc.get("error") == "Tapprove.Denied", desc
    assert desc.get("cause") == "because", desc
    hist = p.history(ex)
    failed = next(e for e in hist if e["type"] == "ActivityFailed")
    details = failed["activityFailedEventDetails"]
    assert details == {"error": "Tapprove.Denied", "cause": "because"}, details
    exec_failed = next(e for e in hist if e["type"] == "ExecutionFailed")
    log(f"  history ActivityFailed {details}, ExecutionFailed {exec_failed['executionFailedEventDetails']}")


def check_c_sqs_callback(p: Peer) -> None:
    qurl = p.sqs.create_queue(QueueName=f"approvals-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sm = p.state_machine(
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": qurl,
                        "MessageBody": {"task_token.$": "$$.Task.Token", "request.$": "$"},
                    },
                    "TimeoutSeconds": 60,
                    "End": True,
                }
            },
        }
    )
    ex = p.start(sm, {"req": "deploy"})
    msgs = p.sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=10).get("Messages", [])
    assert len(msgs) == 1, msgs
    body = json.loads(msgs[0]["Body"])
    assert body["request"] == {"req": "deploy"}, body
    assert body["task_token"], body
    log(f"  ReceiveMessage body: request {body['request']}, token {body['task_token'][:16]}...")
    p.sqs.delete_message(QueueUrl=qurl, ReceiptHandle=msgs[0]["ReceiptHandle"])
    p.sfn.send_task_success(taskToken=body["task_token"], output=json.dumps({"approved": True}))
    desc = p.wait_done(ex, 10)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"approved": True}, desc
    log(f"  execution {desc['status']}, output {desc['output']}")
    # StopExecution while waiting for the token also ends promptly.
    ex = p.start(sm, {"req": "cancel"})
    msgs = p.sqs.receive_message(QueueUrl=qurl, WaitTimeSeconds=10).get("Messages", [])
    assert len(msgs) == 1, msgs
    t0 = time.monotonic()
    p.sfn.stop_execution(executionArn=ex)
    desc = p.wait_done(ex, 5)
    assert desc["status"] == "ABORTED", desc
    log(f"  StopExecution while waiting for the token: {desc['status']} after {time.monotonic() - t0:.2f} s")


def check_d_stop(p: Peer) -> None:
    act = p.activity("stop")
    sm = p.state_machine(activity_task_sm(act, timeout=300, heartbeat=120))
    # d1: nobody has picked the task yet.
    ex1 = p.start(sm, {"n": 1})
    time.sleep(0.5)
    t0 = time.monotonic()
    p.sfn.stop_execution(executionArn=ex1, error="Tapprove.Cancelled", cause="user")
    desc = p.wait_done(ex1, 5)
    assert desc["status"] == "ABORTED", desc
    log(f"  stop before pickup: {desc['status']} after {time.monotonic() - t0:.2f} s")
    types = [e["type"] for e in p.history(ex1)]
    assert types[-1] == "ExecutionAborted", types
    # d2: a worker holds the task (heartbeat wait).
    ex2 = p.start(sm, {"n": 2})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert json.loads(task["input"]) == {"n": 2}, task  # the aborted task was not handed out
    t0 = time.monotonic()
    p.sfn.stop_execution(executionArn=ex2)
    desc = p.wait_done(ex2, 5)
    assert desc["status"] == "ABORTED", desc
    log(f"  stop while worker holds task: {desc['status']} after {time.monotonic() - t0:.2f} s")
    try:
        p.sfn.send_task_success(taskToken=task["taskToken"], output="{}")
        log("  SendTaskSuccess after stop: accepted (no error)")
    except ClientError as err:
        log(f"  SendTaskSuccess after stop: {error_code(err)}")


def check_e_timeout(p: Peer) -> None:
    act = p.activity("timeout")
    sm = p.state_machine(activity_task_sm(act, timeout=2, heartbeat=None))
    # e1: nobody polls.
    t0 = time.monotonic()
    ex = p.start(sm, {"n": 1})
    desc = p.wait_done(ex, 6)
    took = time.monotonic() - t0
    assert desc["status"] == "FAILED", desc
    assert desc.get("error") == "States.Timeout", desc
    assert took <= 5, took
    log(f"  nobody polling: {desc['status']} {desc.get('error')} after {took:.1f} s")
    stale = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert not stale.get("taskToken"), f"timed-out task was handed out: {stale}"
    log("  the timed-out task is not handed out afterwards")
    # e2: a worker takes the task but answers too late.
    ex = p.start(sm, {"n": 2})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert task.get("taskToken"), task
    p.sfn.send_task_heartbeat(taskToken=task["taskToken"])  # no HeartbeatSeconds: still accepted
    desc = p.wait_done(ex, 6)
    assert desc["status"] == "FAILED" and desc.get("error") == "States.Timeout", desc
    try:
        p.sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    except ClientError as err:
        code = error_code(err)
        assert code in ("InvalidToken", "TaskTimedOut"), code
        log(f"  SendTaskSuccess after the timeout fails with {code}")
    else:
        raise AssertionError("SendTaskSuccess after the timeout was accepted")
    try:
        p.sfn.send_task_success(taskToken="no-such-token", output="{}")
        raise AssertionError("bogus token accepted")
    except ClientError as err:
        log(f"  SendTaskSuccess with an unknown token fails with {error_code(err)}")


def check_f_identity(p: Peer) -> None:
    arns = {}
    for user in ("alice", "bob"):
        name = f"{user}-{uuid.uuid4().hex[:6]}"
        arn = p.iam.create_user(UserName=name)["User"]["Arn"]
        key = p.iam.create_access_key(UserName=name)["AccessKey"]
        sts = p.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        ident = sts.get_caller_identity()
        log(f"  {name}: key {key['AccessKeyId']} -> {ident['Arn']} (account {ident['Account']})")
        assert ident["Arn"] == arn, (ident, arn)
        arns[user] = ident["Arn"]
    assert arns["alice"] != arns["bob"]
    default = p.client("sts").get_caller_identity()
    log(f"  dummy 'testing' keys -> {default['Arn']}")


def check_g_dynamodb(p: Peer) -> None:
    table = f"decisions-{uuid.uuid4().hex[:8]}"
    p.ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"pk": {"S": "req-1"}, "decision": {"S": "approve"}}
    p.ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    try:
        p.ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        raise AssertionError("second conditional PutItem succeeded")
    except ClientError as err:
        assert error_code(err) == "ConditionalCheckFailedException", err.response
        log(f"  second conditional PutItem: {error_code(err)}")
    try:
        p.ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "req-2"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "req-1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        raise AssertionError("TransactWriteItems succeeded")
    except ClientError as err:
        assert error_code(err) == "TransactionCanceledException", err.response
        reasons = err.response.get("CancellationReasons")
        log(f"  TransactWriteItems: {error_code(err)}: {err.response['Error']['Message']}")
        log(f"  CancellationReasons: {json.dumps(reasons)}")
        assert reasons is not None and len(reasons) == 2, err.response
        assert reasons[0]["Code"] == "None", reasons
        assert reasons[1]["Code"] == "ConditionalCheckFailed", reasons
    got = p.ddb.get_item(TableName=table, Key={"pk": {"S": "req-2"}})
    assert "Item" not in got, "the transaction was not atomic"


def info_nested_sync2(p: Peer) -> None:
    act = p.activity("child")
    child = p.state_machine(activity_task_sm(act))
    parent = p.state_machine(
        {
            "StartAt": "RunChild",
            "States": {
                "RunChild": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child, "Input.$": "$"},
                    "End": True,
                }
            },
        }
    )
    ex = p.start(parent, {"nested": True})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    assert task.get("taskToken"), f"child activity task never arrived: {task}"
    log(f"  child activity task input {task['input']}")
    p.sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"child": "done"}))
    desc = p.wait_done(ex, 20)
    log(f"  parent {desc['status']}, output {desc.get('output')}")
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert out.get("Output") == {"child": "done"}, out
    # A failing child fails the parent with States.TaskFailed.
    ex = p.start(parent, {"nested": "deny"})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    p.sfn.send_task_failure(taskToken=task["taskToken"], error="Tapprove.Denied", cause="because")
    desc = p.wait_done(ex, 20)
    log(f"  child failed -> parent {desc['status']}, error {desc.get('error')}, cause {desc.get('cause')}")
    assert desc["status"] == "FAILED" and desc.get("error") == "States.TaskFailed", desc
    assert json.loads(desc["cause"])["Error"] == "Tapprove.Denied", desc
    # Stopping the parent: what happens to the child?
    ex = p.start(parent, {"nested": "stop"})
    task = p.sfn.get_activity_task(activityArn=act, workerName="selftest")
    p.sfn.stop_execution(executionArn=ex)
    desc = p.wait_done(ex, 10)
    time.sleep(0.5)
    child_exec = json.loads(task["input"]) == {"nested": "stop"} and [
        e for e in p.sfn.list_executions(stateMachineArn=child)["executions"]
        if e["status"] == "RUNNING"
    ]
    log(f"  parent stopped -> parent {desc['status']}, child executions still RUNNING: {len(child_exec or [])}")
    for e in child_exec or []:
        p.sfn.stop_execution(executionArn=e["executionArn"])


CHECKS = [
    ("a. activity: GetActivityTask, heartbeat, success, empty poll", check_a_activity),
    ("b. SendTaskFailure keeps error and cause", check_b_failure),
    ("c. SQS sendMessage.waitForTaskToken callback", check_c_sqs_callback),
    ("d. StopExecution while an activity task waits -> ABORTED", check_d_stop),
    ("e. TimeoutSeconds with nobody polling -> States.Timeout", check_e_timeout),
    ("f. STS GetCallerIdentity for two IAM users", check_f_identity),
    ("g. DynamoDB conditional put and TransactWriteItems", check_g_dynamodb),
]


def main() -> int:
    proc, url = start_peer()
    log(f"peer at {url}")
    passed = failed = 0
    try:
        p = Peer(url)
        for title, fn in CHECKS:
            log(f"--- {title}")
            t0 = time.monotonic()
            try:
                fn(p)
            except Exception:
                failed += 1
                log(traceback.format_exc().rstrip())
                log(f"FAIL {title} ({time.monotonic() - t0:.1f} s)")
            else:
                passed += 1
                log(f"PASS {title} ({time.monotonic() - t0:.1f} s)")
        log("--- info: nested states:startExecution.sync:2 (not counted)")
        try:
            info_nested_sync2(p)
            log("INFO nested startExecution.sync:2 works")
        except Exception as exc:
            log(f"INFO nested startExecution.sync:2 does not work: {exc!r}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    log(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
