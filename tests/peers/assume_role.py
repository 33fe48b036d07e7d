"""Assumes an IAM role in the moto server at AWS_ENDPOINT_URL with a chosen
session name and prints `{"user": ARN, "access_key_id": ..., "secret_access_key":
..., "session_token": ...}`.

    .venv/bin/python tests/peers/assume_role.py ROLE SESSION [ACCOUNT]

The role is created first (in ACCOUNT, default moto's 123456789012) so that
its unique id, and so the session's `UserId` (`AROA...:SESSION`), stays the
same across calls, as in AWS. A role in another account is created with
credentials of that account, which moto hands out for any role ARN there:
that is how the tests play an outsider from account 999999999999.
"""
import json
import os
import sys

import boto3

DEFAULT_ACCOUNT = "123456789012"


def client(service, **credentials):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        **credentials,
    )


def admin():
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def assume(arn, session, **credentials):
    c = client("sts", **credentials).assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def main() -> None:
    role, session = sys.argv[1], sys.argv[2]
    account = sys.argv[3] if len(sys.argv) > 3 else DEFAULT_ACCOUNT
    arn = f"arn:aws:iam::{account}:role/{role}"
    in_account = admin() if account == DEFAULT_ACCOUNT else assume(arn, "setup", **admin())
    iam = client("iam", **in_account)
    try:
        iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    creds = assume(arn, session, **admin())
    print(json.dumps({
        "user": f"{role}/{session}",
        "access_key_id": creds["aws_access_key_id"],
        "secret_access_key": creds["aws_secret_access_key"],
        "session_token": creds["aws_session_token"],
    }))


if __name__ == "__main__":
    main()
