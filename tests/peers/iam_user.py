"""Creates an IAM user with an access key in the moto server at AWS_ENDPOINT_URL
and prints `{"user": ..., "access_key_id": ..., "secret_access_key": ...}`.

Tests use it to get several approvers: moto's STS GetCallerIdentity answers
with the IAM user that owns the access key, as AWS does.

    .venv/bin/python tests/peers/iam_user.py NAME
"""
import json
import os
import sys

import boto3


def main() -> None:
    name = sys.argv[1]
    iam = boto3.client(
        "iam",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    print(json.dumps({"user": name, "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))


if __name__ == "__main__":
    main()
