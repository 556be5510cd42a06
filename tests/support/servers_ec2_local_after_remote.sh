#!/bin/sh
# servers_ec2_local_after_remote.sh OUT — child of `aws-vault exec --ec2-server` inside the
# "local" test network namespace. Signals OUT/ready, waits (at most 60 s) until the test has
# attacked the proxy from the remote namespace (OUT/remote-done), then records what local
# clients get: curl, a curl claiming a remote X-Forwarded-For, the AWS CLI and boto3.
out=$1
ip addr show dev lo > "$out/lo-during.txt"
touch "$out/ready"
i=0
while [ ! -e "$out/remote-done" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
creds=http://169.254.169.254/latest/meta-data/iam/security-credentials/local-credentials
curl -s -o "$out/local.body" -w '%{http_code}' --max-time 10 "$creds" > "$out/local.status"
curl -s -o "$out/xff.body" -w '%{http_code}' --max-time 10 -H "X-Forwarded-For: $REMOTE_ADDR" "$creds" > "$out/xff.status"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_EC2_METADATA_DISABLED AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
aws configure list > "$out/cli.txt" 2> "$out/cli.err"
python3 "$(dirname "$0")/servers_boto3.py" --no-sts > "$out/boto3.json" 2> "$out/boto3.err"
exit 0
