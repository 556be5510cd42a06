#!/usr/bin/env python3
"""servers_boto3.py — run by the servers tests as the child of `aws-vault exec --*-server`.

Prints one JSON line: how boto3 found its credentials (`method`), the access key id, and the
caller identity from STS (AWS_ENDPOINT_URL points at moto) unless `--no-sts` is given.
"""
import json
import sys

import boto3

session = boto3.session.Session()
creds = session.get_credentials()
out = {"method": creds.method, "access_key": creds.get_frozen_credentials().access_key}
if "--no-sts" not in sys.argv:
    out["arn"] = session.client("sts").get_caller_identity()["Arn"]
print(json.dumps(out))
