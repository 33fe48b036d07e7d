"""The CloudFormation templates deployed into moto's CloudFormation (with
the launcher's models for function URLs, activities and substituted state
machines, tests/peers/README.md), then checked against the code:

- the gate each group stack creates is deploy/gate.asl.json, byte for byte
  in the template and with exactly the five placeholders filled once
  deployed;
- the tables have the keys `tapprove gate install` gives its own;
- the verifier Lambda's inline settings are ones the verifier accepts;
- with Announcements=Enabled, the verifier is told of the core stack's
  topic and may publish to it, and a group stack's rule sends its gate's
  stopped executions to the verifier;
- with FidoMetadataBucket and FidoMetadataKey, the verifier is told of the
  object, may read it alone, and a daily rule invokes it to import it;
- `tapprove admin policy init --stack` writes the org policy from the
  stacks' outputs, and `tapprove admin policy check` accepts it.

moto creates but does not run the Lambda function (no Docker here), so the
verifier in this deployment is not exercised; the approval loop's tests run
the same gate definition with the verifier as an activity worker.
"""

import ast
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/tapprove/target"))
TAPPROVE = TARGET / "debug/tapprove"
VERIFIER = TARGET / "debug/tapprove-verifier"
GATE = (ROOT / "deploy/gate.asl.json").read_text()
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/peers/moto_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    yield line.split()[1]
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def env(moto):
    e = dict(os.environ)
    e.update(
        AWS_ENDPOINT_URL=moto,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    e.pop("AWS_PROFILE", None)
    return e


def client(moto, service):
    return boto3.client(
        service, endpoint_url=moto, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def deploy(moto, name, template, parameters):
    cfn = client(moto, "cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=(ROOT / "deploy" / template).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def attestation_root():
    """A CA certificate as a vendor's attestation root, base64 DER (the form
    the stack's AttestationRoots takes, as FIDO's Metadata Service lists roots)."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test vendor attestation root")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


ROOT_CERT = attestation_root()


@pytest.fixture(scope="module")
def stacks(moto):
    s3 = client(moto, "s3")
    s3.create_bucket(Bucket="tapprove-artifacts")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("bootstrap", "stand-in: moto stores the code and does not run it")
    s3.put_object(Bucket="tapprove-artifacts", Key="verifier/arm64.zip", Body=package.getvalue())
    core = deploy(
        moto,
        "tapprove",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "RequireUserVerification": "true",
            "AllowSoftwareAuthenticators": "false",
            "AllowedAaguids": "ee882879-721c-4913-9775-3dfcce97072a,cb69481e-8ff7-4039-93ec-0a2729a154a8",
            "AttestationRoots": ROOT_CERT,
            "Announcements": "Enabled",
        },
    )
    # prod announces its withdrawals; dba keeps the default (Disabled).
    prod = deploy(
        moto, "tapprove-prod", "group.yaml", {"CoreStack": "tapprove", "Group": "prod", "Source": "activity", "Announcements": "Enabled"}
    )
    dba = deploy(moto, "tapprove-dba", "group.yaml", {"CoreStack": "tapprove", "Group": "dba", "Source": "queue"})
    return core, prod, dba


def test_the_template_embeds_the_gate_byte_for_byte():
    template = yaml.safe_load((ROOT / "deploy/group.yaml").read_text())
    assert template["Resources"]["Gate"]["Properties"]["DefinitionString"] == GATE
    placeholders = set(re.findall(r"\$\{(\w+)\}", GATE))
    substitutions = template["Resources"]["Gate"]["Properties"]["DefinitionSubstitutions"]
    assert set(substitutions) == placeholders == {"Group", "Source", "DecisionActivityArn", "DecisionTopicArn", "VerifierResource"}


def test_each_group_gets_the_gate_with_its_own_resources(moto, stacks):
    core, prod, dba = stacks
    sfn = client(moto, "stepfunctions")
    for group, source, name in ((prod, "activity", "prod"), (dba, "queue", "dba")):
        deployed = sfn.describe_state_machine(stateMachineArn=group["GateArn"])["definition"]
        expected = (
            GATE.replace("${DecisionActivityArn}", group["ActivityArn"])
            .replace("${DecisionTopicArn}", group["TopicArn"])
            .replace("${VerifierResource}", core["VerifierFunctionArn"])
            .replace("${Source}", source)
            .replace("${Group}", name)
        )
        assert deployed == expected
        states = json.loads(deployed)["States"]
        assert states["Build request"]["Parameters"]["gate"]["source"] == source
        # Without a policy in the registry, the gate is still its group's.
        for state in ("Check request", "Verify", "Verify denial"):
            assert states[state]["Parameters"]["gate_group"] == name, state
        sfn.describe_activity(activityArn=group["ActivityArn"])
        client(moto, "sns").get_topic_attributes(TopicArn=group["TopicArn"])
    policy = client(moto, "iam").get_policy(PolicyArn=prod["ApproverPolicyArn"])["Policy"]
    version = client(moto, "iam").get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    statements = version["PolicyVersion"]["Document"]["Statement"]
    polled = [s for s in statements if "states:GetActivityTask" in s["Action"]]
    assert polled and all(s["Resource"] == prod["ActivityArn"] for s in polled), statements


def test_the_tables_are_the_ones_the_code_creates(moto, stacks, env, tmp_path):
    core, _, _ = stacks
    out = subprocess.run(
        [str(TAPPROVE), "--json", "--config", str(tmp_path / "cmp.toml"), "gate", "install", "--group", "cmp", "--prefix", "cmp"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    ddb = client(moto, "dynamodb")

    def shape(name):
        t = ddb.describe_table(TableName=name)["Table"]
        indexes = sorted(
            (i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
            for i in t.get("GlobalSecondaryIndexes", [])
        )
        return json.dumps(t["KeySchema"]), sorted(json.dumps(a) for a in t["AttributeDefinitions"]), indexes

    for kind in ("registry", "ledger", "audit"):
        assert shape(core[f"{kind.capitalize()}Table"]) == shape(f"cmp-{kind}"), kind


def test_the_verifier_accepts_the_settings_the_template_gives_it(moto, stacks, env):
    core, _, _ = stacks
    function = client(moto, "lambda").get_function(FunctionName=core["VerifierFunctionArn"])["Configuration"]
    inline = function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"]
    settings = tomllib.loads(inline)
    assert settings["rp_id"] == "approvals.example.com"
    assert settings["require_user_verification"] is True
    assert settings["allow_software_authenticators"] is False
    assert settings["allowed_aaguids"] == ["ee882879-721c-4913-9775-3dfcce97072a", "cb69481e-8ff7-4039-93ec-0a2729a154a8"]
    # The models count only when their attestation chains to the roots
    # given; a model only claimed is not believed.
    assert settings["attestation_root_certificates"] == [ROOT_CERT]
    assert settings["accept_self_reported_models"] is False
    assert settings["tables"] == {"registry": core["RegistryTable"], "ledger": core["LedgerTable"], "audit": core["AuditTable"]}
    # The stack announces (Announcements=Enabled) on its own topic.
    assert settings["announcements"] == {"topic_arn": core["AnnouncementTopicArn"]}
    # Only this account's IAM Identity Center sessions enrol, and proofs
    # must name this stack.
    assert settings["identity"] == {
        "accounts": ["123456789012"],
        "roles": ["AWSReservedSSO_*"],
        "iam_users": False,
        "requesters": [],
    }
    # Nobody opens requests through the verifier, so it starts no gate.
    assert "states:StartExecution" not in verifier_role_actions(moto, core["VerifierFunctionArn"])
    assert settings["enrolment"]["server_id"] == core["EnrolmentServerId"]
    # The verifier itself reads them: its enrolment service starts.
    proc = subprocess.Popen(
        [str(VERIFIER), "serve", "--listen", "127.0.0.1:0"],
        env=env | {"TAPPROVE_CONFIG_TOML": inline, "TAPPROVE_CONFIG": "/nonexistent.toml"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first, second = proc.stderr.readline(), proc.stderr.readline()
        assert "enrolling for `approvals.example.com`" in first and "settings $TAPPROVE_CONFIG_TOML" in first, first
        assert "listening on http://127.0.0.1:" in second, second
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    url = client(moto, "lambda").get_function_url_config(FunctionName=core["VerifierFunctionArn"])
    assert url["AuthType"] == "AWS_IAM"
    assert core["EnrolmentUrl"].rstrip("/") == url["FunctionUrl"].rstrip("/")


def test_policy_init_writes_the_org_policy_from_the_stacks(moto, stacks, env, tmp_path):
    core, prod, dba = stacks
    out_file = tmp_path / "policy.toml"
    run = subprocess.run(
        [
            str(TAPPROVE), "admin", "policy", "init", "--stack", "tapprove", "--out", str(out_file),
            "--start-url", "https://d-9067000000.awsapps.com/start", "--sso-region", "eu-west-1",
            "--quiet-hours", "22:00-07:00", "--updates", "stable", "--pin-version", "0.2.0",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o644
    policy = tomllib.loads(out_file.read_text())
    assert policy["rp_id"] == "approvals.example.com"
    assert policy["require_user_verification"] is True and policy["allow_software_authenticators"] is False
    assert policy["attestation_root_certificates"] == [ROOT_CERT] and policy["accept_self_reported_models"] is False
    assert policy["tables"] == {"registry": core["RegistryTable"], "ledger": core["LedgerTable"], "audit": core["AuditTable"]}
    assert sorted(policy["sources"], key=lambda s: s["group"]) == [
        {"kind": "queue", "group": "dba", "topic_arn": dba["TopicArn"]},
        {"kind": "activity", "group": "prod", "arn": prod["ActivityArn"]},
    ]
    assert policy["enrolment"]["url"] == core["EnrolmentUrl"]
    # Clients sign this stack's name into every identity proof, and its
    # verifier accepts no other.
    assert policy["enrolment"]["server_id"] == core["EnrolmentServerId"] == "123456789012:us-east-1:tapprove"
    assert policy["sign_in"] == {"kind": "sso", "start_url": "https://d-9067000000.awsapps.com/start", "region": "eu-west-1"}
    assert policy["notifications"]["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert policy["updates"] == {"channel": "stable", "pin": "0.2.0"}

    check = subprocess.run([str(TAPPROVE), "--json", "admin", "policy", "check", str(out_file)], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert set(json.loads(check.stdout)["fixed"]) == {
        "rp_id", "require_user_verification", "allow_software_authenticators", "accept_self_reported_models",
        "attestation_root_certificates", "tables", "sources", "enrolment", "sign_in", "notifications", "updates",
    }


def test_policy_init_says_what_is_missing(moto, stacks, env, tmp_path):
    missing = subprocess.run(
        [str(TAPPROVE), "admin", "policy", "init", "--stack", "no-such-stack"], env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0 and "no-such-stack" in missing.stderr, missing.stderr
    deploy(
        moto,
        "lonely",
        "tapprove.yaml",
        {"RpId": "lonely.example.com", "VerifierCodeBucket": "tapprove-artifacts", "VerifierCodeKey": "verifier/arm64.zip"},
    )
    lonely = subprocess.run(
        [str(TAPPROVE), "admin", "policy", "init", "--stack", "lonely"], env=env, capture_output=True, text=True
    )
    assert lonely.returncode != 0 and "deploy/group.yaml with CoreStack=lonely" in lonely.stderr, lonely.stderr
    bad = subprocess.run(
        [str(TAPPROVE), "admin", "policy", "init", "--stack", "tapprove", "--quiet-hours", "22-7"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "HH:MM" in bad.stderr, bad.stderr


def statements_of(moto, policy_arn):
    iam = client(moto, "iam")
    policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"])
    return version["PolicyVersion"]["Document"]["Statement"]


def actions(statements):
    found = set()
    for s in statements:
        found.update([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    return found


def verifier_role_statements(moto, function_arn):
    role = client(moto, "lambda").get_function(FunctionName=function_arn)["Configuration"]["Role"]
    document = client(moto, "iam").get_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyName="verifier")["PolicyDocument"]
    if isinstance(document, str):
        # moto keeps a CloudFormation role's inline policy as the template's
        # object and answers with its JSON text or, at times, its Python repr.
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = ast.literal_eval(document)
    return document["Statement"]


def verifier_role_actions(moto, function_arn):
    return actions(verifier_role_statements(moto, function_arn))


def test_the_decision_endpoint_sends_signed_decisions_through_the_verifier(moto, stacks, env, tmp_path):
    core = deploy(
        moto,
        "tapdec",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "DecisionEndpoint": "true",
        },
    )
    ops = deploy(
        moto, "tapdec-ops", "group.yaml", {"CoreStack": "tapdec", "Group": "ops", "Source": "queue", "Delivery": "endpoint"}
    )
    build = deploy(
        moto, "tapdec-build", "group.yaml", {"CoreStack": "tapdec", "Group": "build", "Source": "activity", "Delivery": "endpoint"}
    )
    apigw = client(moto, "apigatewayv2")
    [api] = [a for a in apigw.get_apis()["Items"] if a["Name"] == "tapdec-decisions"]
    assert api["ProtocolType"] == "HTTP"
    assert core["DecisionEndpointUrl"] == api["ApiEndpoint"]
    # One route, the path the verifier serves, behind the verifier as a
    # REQUEST authorizer that reads the Authorization header, never caches,
    # and answers simple responses in payload format 2.0.
    [authorizer] = apigw.get_authorizers(ApiId=api["ApiId"])["Items"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    assert f"/functions/{core['VerifierFunctionArn']}/invocations" in authorizer["AuthorizerUri"]
    [route] = apigw.get_routes(ApiId=api["ApiId"])["Items"]
    assert route["RouteKey"] == "POST /v1/decisions"
    assert (route["AuthorizationType"], route["AuthorizerId"]) == ("CUSTOM", authorizer["AuthorizerId"])
    [integration] = apigw.get_integrations(ApiId=api["ApiId"])["Items"]
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == core["VerifierFunctionArn"]
    assert integration["PayloadFormatVersion"] == "2.0"
    [stage] = apigw.get_stages(ApiId=api["ApiId"])["Items"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)

    # The verifier sends the results; approvers of these groups cannot,
    # and keep only the heartbeat of the activity tasks they hold.
    sends = {"states:SendTaskSuccess", "states:SendTaskFailure"}
    assert sends <= verifier_role_actions(moto, core["VerifierFunctionArn"])
    # ...but only for a running execution of one of this stack's gates,
    # which it reads first.
    assert {"states:DescribeExecution", "states:GetExecutionHistory"} <= verifier_role_actions(moto, core["VerifierFunctionArn"])
    function = client(moto, "lambda").get_function(FunctionName=core["VerifierFunctionArn"])["Configuration"]
    settings = tomllib.loads(function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"])
    assert settings["decision_endpoint"]["gates"] == [f"arn:aws:states:{REGION}:123456789012:stateMachine:tapdec-*-gate"]
    assert not sends & verifier_role_actions(moto, stacks[0]["VerifierFunctionArn"])
    assert not actions(statements_of(moto, ops["ApproverPolicyArn"])) & (sends | {"states:SendTaskHeartbeat"})
    build_actions = actions(statements_of(moto, build["ApproverPolicyArn"]))
    assert "states:SendTaskHeartbeat" in build_actions and not build_actions & sends
    assert sends <= actions(statements_of(moto, stacks[1]["ApproverPolicyArn"]))

    # The org policy sends the apps' decisions there.
    out_file = tmp_path / "policy.toml"
    run = subprocess.run(
        [str(TAPPROVE), "admin", "policy", "init", "--stack", "tapdec", "--out", str(out_file)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    policy = tomllib.loads(out_file.read_text())
    assert policy["delivery"] == {"endpoint": core["DecisionEndpointUrl"]}
    assert "delivery" not in tomllib.loads(
        subprocess.run(
            [str(TAPPROVE), "admin", "policy", "init", "--stack", "tapprove"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )

    # A group that answers through an endpoint its core stack lacks is a
    # deployment mistake policy init names.
    deploy(moto, "tapnodec", "tapprove.yaml", {"RpId": "nodec.example.com", "VerifierCodeBucket": "tapprove-artifacts", "VerifierCodeKey": "verifier/arm64.zip"})
    deploy(moto, "tapnodec-ops", "group.yaml", {"CoreStack": "tapnodec", "Group": "ops", "Delivery": "endpoint"})
    refused = subprocess.run(
        [str(TAPPROVE), "admin", "policy", "init", "--stack", "tapnodec"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "DecisionEndpoint=true" in refused.stderr, refused.stderr


def test_requesters_and_openid_connect_people_reach_the_verifiers_settings(moto, stacks, env):
    core = deploy(
        moto,
        "tapoidc",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "RequesterPrincipals": "arn:aws:sts::123456789012:assumed-role/ci-deploy/*",
            "OidcIssuer": "https://idp.example.com/oauth2/default",
            "OidcAudience": "0oa1tapprove",
            "OidcRoles": "TapproveOidc,TapproveOidcAuditors",
        },
    )
    function = client(moto, "lambda").get_function(FunctionName=core["VerifierFunctionArn"])["Configuration"]
    inline = function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"]
    settings = tomllib.loads(inline)
    assert settings["identity"]["requesters"] == ["arn:aws:sts::123456789012:assumed-role/ci-deploy/*"]
    assert settings["identity"]["oidc"] == {
        "issuer": "https://idp.example.com/oauth2/default",
        "audience": "0oa1tapprove",
        "roles": ["TapproveOidc", "TapproveOidcAuditors"],
        "claim": "email",
    }
    # The request endpoint may start this stack's gates (and no others).
    assert "states:StartExecution" in verifier_role_actions(moto, core["VerifierFunctionArn"])
    # The verifier reads these settings as they are.
    proc = subprocess.Popen(
        [str(VERIFIER), "serve", "--listen", "127.0.0.1:0"],
        env=env | {"TAPPROVE_CONFIG_TOML": inline, "TAPPROVE_CONFIG": "/nonexistent.toml"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()
        assert "enrolling for `approvals.example.com`" in first, first
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def withdrawal_event(execution_arn, state_machine_arn, status):
    """Step Functions' event of an execution's status, as AWS sends it."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": execution_arn.rsplit(":", 1)[-1],
            "status": status,
            "startDate": 1767225500000,
            "stopDate": 1767225600000,
            "input": "{}",
            "output": None,
        },
    }


def test_announcements_go_to_the_stacks_topic_and_withdrawals_to_the_verifier(moto, stacks):
    from moto.events.models import EventPattern

    core, prod, dba = stacks
    verifier = core["VerifierFunctionArn"]
    # The topic: the stack's own, and the one the verifier's settings name.
    topic = core["AnnouncementTopicArn"]
    assert topic == f"arn:aws:sns:{REGION}:123456789012:tapprove_announcements"
    attributes = client(moto, "sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"
    function = client(moto, "lambda").get_function(FunctionName=verifier)["Configuration"]
    settings = tomllib.loads(function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"])
    assert settings["announcements"] == {"topic_arn": topic}

    # The verifier publishes to that topic and no other, and may read back
    # an execution of this stack's gates to confirm a withdrawal.
    statements = verifier_role_statements(moto, verifier)
    publishing = [s for s in statements if "sns:Publish" in actions([s])]
    assert [s["Resource"] for s in publishing] == [topic], publishing
    reading = [s for s in statements if "states:DescribeExecution" in actions([s])]
    assert [s["Resource"] for s in reading] == [f"arn:aws:states:{REGION}:123456789012:execution:tapprove-*-gate:*"], reading

    # prod's rule: Step Functions' events of its gate's stopped executions,
    # on the default bus, to the verifier. dba (Announcements left at
    # Disabled) has none.
    events = client(moto, "events")
    [name] = events.list_rule_names_by_target(TargetArn=verifier)["RuleNames"]
    rule = events.describe_rule(Name=name)
    assert rule["Arn"] == prod["WithdrawalRuleArn"]
    assert rule["EventBusName"] == "default" and rule["State"] == "ENABLED"
    pattern = json.loads(rule["EventPattern"])
    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED"], "stateMachineArn": [prod["GateArn"]]},
    }
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [{"Id": "verifier", "Arn": verifier}]
    assert "WithdrawalRuleArn" not in dba
    matcher = EventPattern.load(rule["EventPattern"])
    stopped = f"arn:aws:states:{REGION}:123456789012:execution:tapprove-prod-gate:req-1"
    assert matcher.matches_event(withdrawal_event(stopped, prod["GateArn"], "ABORTED"))
    assert not matcher.matches_event(withdrawal_event(stopped, prod["GateArn"], "SUCCEEDED"))
    other = f"arn:aws:states:{REGION}:123456789012:execution:tapprove-dba-gate:req-2"
    assert not matcher.matches_event(withdrawal_event(other, dba["GateArn"], "ABORTED"))

    # EventBridge may invoke the verifier for that rule only.
    policy = json.loads(client(moto, "lambda").get_policy(FunctionName=verifier)["Policy"])
    from_events = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(from_events) == 1, policy
    assert from_events[0]["Action"] == "lambda:InvokeFunction"
    assert from_events[0]["Condition"] == {"ArnLike": {"AWS:SourceArn": rule["Arn"]}}


def test_without_announcements_there_is_no_topic_nor_publishing(moto, stacks):
    core = deploy(
        moto,
        "tapquiet",
        "tapprove.yaml",
        {"RpId": "quiet.example.com", "VerifierCodeBucket": "tapprove-artifacts", "VerifierCodeKey": "verifier/arm64.zip"},
    )
    assert "AnnouncementTopicArn" not in core
    function = client(moto, "lambda").get_function(FunctionName=core["VerifierFunctionArn"])["Configuration"]
    settings = tomllib.loads(function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"])
    assert "announcements" not in settings
    assert not any(a.lower().startswith("sns:") for a in verifier_role_actions(moto, core["VerifierFunctionArn"]))
    topics = [t["TopicArn"] for t in client(moto, "sns").list_topics()["Topics"]]
    assert not [t for t in topics if t.endswith(":tapquiet_announcements")], topics
    group = deploy(moto, "tapquiet-ops", "group.yaml", {"CoreStack": "tapquiet", "Group": "ops"})
    assert "WithdrawalRuleArn" not in group
    assert not client(moto, "events").list_rule_names_by_target(TargetArn=core["VerifierFunctionArn"])["RuleNames"]


def schedules_of(moto, function_arn):
    """The scheduled EventBridge rules that invoke `function_arn`, with their targets."""
    events = client(moto, "events")
    found = {}
    for name in events.list_rule_names_by_target(TargetArn=function_arn)["RuleNames"]:
        rule = events.describe_rule(Name=name)
        if rule.get("ScheduleExpression"):
            found[name] = (rule, events.list_targets_by_rule(Rule=name)["Targets"])
    return found


def test_fido_metadata_from_s3_is_imported_daily_by_the_verifier(moto, stacks):
    core = deploy(
        moto,
        "tapfido",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "FidoMetadataBucket": "acme-fido-metadata",
            "FidoMetadataKey": "mds/blob.jwt",
        },
    )
    verifier = core["VerifierFunctionArn"]
    function = client(moto, "lambda").get_function(FunctionName=verifier)["Configuration"]
    settings = tomllib.loads(function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"])
    assert settings["fido_metadata"] == {"object": "s3://acme-fido-metadata/mds/blob.jwt"}

    # Once a day, EventBridge invokes the verifier with the import event.
    [(rule, targets)] = schedules_of(moto, verifier).values()
    assert rule["ScheduleExpression"] == "rate(1 day)" and rule["State"] == "ENABLED"
    assert "EventPattern" not in rule
    assert [(t["Id"], t["Arn"]) for t in targets] == [("verifier", verifier)]
    assert targets[0]["Input"] == '{"tapprove": "import_fido_metadata"}'
    assert json.loads(targets[0]["Input"]) == {"tapprove": "import_fido_metadata"}

    # ...for that rule only.
    policy = json.loads(client(moto, "lambda").get_policy(FunctionName=verifier)["Policy"])
    from_events = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(from_events) == 1, policy
    assert from_events[0]["Action"] == "lambda:InvokeFunction"
    assert from_events[0]["Condition"] == {"ArnLike": {"AWS:SourceArn": rule["Arn"]}}

    # The verifier reads that one object, and nothing else of S3.
    statements = verifier_role_statements(moto, verifier)
    reading = [s for s in statements if any(a.startswith("s3:") for a in actions([s]))]
    assert [(s["Sid"], s["Action"], s["Resource"]) for s in reading] == [
        ("FidoMetadataObject", "s3:GetObject", "arn:aws:s3:::acme-fido-metadata/mds/blob.jwt")
    ], reading


def test_without_a_fido_metadata_object_there_is_no_import(moto, stacks):
    # The default stack, and one given a bucket but no key: neither
    # schedules an import nor tells the verifier of an object.
    half = deploy(
        moto,
        "tapnofido",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "FidoMetadataBucket": "acme-fido-metadata",
        },
    )
    for core in (stacks[0], half):
        verifier = core["VerifierFunctionArn"]
        function = client(moto, "lambda").get_function(FunctionName=verifier)["Configuration"]
        inline = function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"]
        assert "fido_metadata" not in tomllib.loads(inline) and "s3://" not in inline, inline
        assert not schedules_of(moto, verifier), verifier
        assert not any(a.startswith("s3:") for a in verifier_role_actions(moto, verifier)), verifier


def test_the_verifier_accepts_the_fido_metadata_settings(moto, stacks, env):
    core = deploy(
        moto,
        "tapfidoread",
        "tapprove.yaml",
        {
            "RpId": "approvals.example.com",
            "VerifierCodeBucket": "tapprove-artifacts",
            "VerifierCodeKey": "verifier/arm64.zip",
            "FidoMetadataBucket": "acme-fido-metadata",
            "FidoMetadataKey": "mds/blob-(2026).jwt",
        },
    )
    function = client(moto, "lambda").get_function(FunctionName=core["VerifierFunctionArn"])["Configuration"]
    inline = function["Environment"]["Variables"]["TAPPROVE_CONFIG_TOML"]
    assert tomllib.loads(inline)["fido_metadata"] == {"object": "s3://acme-fido-metadata/mds/blob-(2026).jwt"}
    proc = subprocess.Popen(
        [str(VERIFIER), "serve", "--listen", "127.0.0.1:0"],
        env=env | {"TAPPROVE_CONFIG_TOML": inline, "TAPPROVE_CONFIG": "/nonexistent.toml"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()
        assert "enrolling for `approvals.example.com`" in first, first
    finally:
        proc.terminate()
        proc.wait(timeout=10)
