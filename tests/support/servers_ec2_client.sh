#!/bin/sh
# servers_ec2_client.sh OUT — run inside a test network namespace as the child of
# `aws-vault exec --ec2-server`. Records what real clients get from 169.254.169.254 (through the
# proxy) and from 127.0.0.1:9099 directly, one file per request in OUT.
out=$1
get() { # name method url [curl args...]
  name=$1; method=$2; url=$3; shift 3
  curl -s -X "$method" -o "$out/$name.body" -w '%{http_code}' --max-time 10 "$@" "$url" > "$out/$name.status"
}
ip addr show dev lo > "$out/lo-during.txt"
get token PUT http://169.254.169.254/latest/api/token -H 'x-aws-ec2-metadata-token-ttl-seconds: 21600'
get roles GET http://169.254.169.254/latest/meta-data/iam/security-credentials/
get creds GET http://169.254.169.254/latest/meta-data/iam/security-credentials/local-credentials
get instance GET http://169.254.169.254/latest/meta-data/instance-id/
get info GET http://169.254.169.254/latest/meta-data/iam/info
get document GET http://169.254.169.254/latest/dynamic/instance-identity/document
get missing GET http://169.254.169.254/latest/user-data
# Straight to the metadata server: wrong Host, then a non-loopback client address.
get direct_host GET http://127.0.0.1:9099/latest/meta-data/instance-id/
get direct_remote GET http://127.0.0.1:9099/latest/meta-data/instance-id/ -H 'Host: 169.254.169.254' --interface "$CLIENT_ADDR"
get direct_ok GET http://127.0.0.1:9099/latest/meta-data/instance-id/ -H 'Host: 169.254.169.254'
# A real SDK client through the IMDS chain.
env -u AWS_EC2_METADATA_DISABLED -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  python3 "$(dirname "$0")/servers_boto3.py" --no-sts > "$out/boto3.json" 2> "$out/boto3.err"
exit 3
