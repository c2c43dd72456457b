#!/usr/bin/env bash
# Smoke flow with the real AWS CLI against the built binary: data loaded with `import`, then
# `serve`, then dataset group and data deletion job calls through `aws personalize`.
#   .ci/smoke-aws-cli.sh BINARY S3_ENDPOINT
set -euo pipefail
bin=$1
s3=$2
here=$(cd "$(dirname "$0")/.." && pwd)
command -v aws >/dev/null || python3 -m pip install -q awscli
work=$(mktemp -d)
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 PERSONALIZE_LOCAL_S3_ENDPOINT=$s3
bucket=smoke-$$
aws --endpoint-url "$s3" s3 mb "s3://$bucket" >/dev/null
aws --endpoint-url "$s3" s3 cp --recursive --quiet "$here/fixtures/s3/tests/" "s3://$bucket/"

"$bin" --data-dir "$work/data" import --dataset-group smoke --dataset-type Users \
  --data-location "s3://$bucket/datasets/users.csv" >/dev/null
"$bin" --data-dir "$work/data" import --dataset-group smoke --dataset-type Interactions \
  --data-location "s3://$bucket/datasets/interactions.csv" >/dev/null

"$bin" --data-dir "$work/data" serve --port 0 --transition-ms 0 >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q 'listening on' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
api=$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -n 1)
[ -n "$api" ] || { cat "$work/serve.err" >&2; exit 1; }
p() { aws --endpoint-url "$api" personalize "$@"; }

group=arn:aws:personalize:us-east-1:000000000000:dataset-group/smoke
p describe-dataset-group --dataset-group-arn "$group" >"$work/group.json"
python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["datasetGroup"]; assert g["status"]=="ACTIVE" and g["name"]=="smoke", g' "$work/group.json"

p create-dataset-group --name smoke-two >/dev/null
if p create-dataset-group --name smoke-two 2>"$work/dup.err"; then echo "duplicate accepted" >&2; exit 1; fi
grep -q ResourceAlreadyExistsException "$work/dup.err"
p list-dataset-groups >"$work/groups.json"
python3 -c 'import json,sys; n=[g["name"] for g in json.load(open(sys.argv[1]))["datasetGroups"]]; assert n==["smoke","smoke-two"], n' "$work/groups.json"

job=$(p create-data-deletion-job --job-name smoke-job --dataset-group-arn "$group" \
  --data-source "dataLocation=s3://$bucket/deletion-nested/" \
  --role-arn arn:aws:iam::123456789012:role/PersonalizeRole --query dataDeletionJobArn --output text)
for _ in $(seq 1 100); do
  p describe-data-deletion-job --data-deletion-job-arn "$job" >"$work/job.json"
  grep -q '"status": "\(COMPLETED\|FAILED\)"' "$work/job.json" && break
  sleep 0.1
done
python3 - "$work/job.json" "$here/fixtures/s3/tests" <<'PY'
import csv, glob, json, os, sys
job = json.load(open(sys.argv[1]))["dataDeletionJob"]
root = sys.argv[2]
gone = set()
for f in glob.glob(os.path.join(root, "deletion-nested", "**", "*"), recursive=True):
    if os.path.isfile(f):
        rows = list(csv.reader(open(f, newline="", encoding="utf-8-sig")))
        gone |= {r[0] for r in rows[1:] if r}
want = sum(1 for name in ("users.csv", "interactions.csv")
           for r in list(csv.reader(open(os.path.join(root, "datasets", name), newline="")))[1:] if r[0] in gone)
assert job["status"] == "COMPLETED", job
assert job["numDeleted"] == want, (job["numDeleted"], want)
assert isinstance(job["creationDateTime"], (int, float)), job
print(f"aws cli smoke: job COMPLETED, numDeleted {want}")
PY
p list-data-deletion-jobs --dataset-group-arn "$group" >"$work/jobs.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["dataDeletionJobs"]; assert [x["jobName"] for x in j]==["smoke-job"] and "numDeleted" not in j[0], j' "$work/jobs.json"
echo "aws cli smoke: passed"
