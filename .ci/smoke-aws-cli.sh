#!/usr/bin/env bash
# Smoke flow with the real AWS CLI against the built binary: data loaded with `import`, then
# `serve`, then dataset group and data deletion job calls through `aws personalize`, then a
# schema, a dataset and its tags, each created, checked and deleted again, then an event
# tracker, `aws personalize-events` calls and an export of what they put; then the recipe
# catalog, solutions of each family trained on planted interactions, and a stopped version.
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

# Interactions with planted structure (user u prefers the items of group u % 6), for training.
python3 - "$work/planted.csv" <<'PY'
import random, sys
rng = random.Random(11)
rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
for u in range(600):
    for k in range(10):
        g = u % 6 if rng.random() < 0.85 else rng.randrange(6)
        rows.append(f"u{u},i{int(rng.random() ** 2 * 20) * 6 + g},{1700000000 + u * 10 + k},click")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
aws --endpoint-url "$s3" s3 cp --quiet "$work/planted.csv" "s3://$bucket/planted/interactions.csv"
"$bin" --data-dir "$work/data" import --dataset-group smoke-train --dataset-type Interactions \
  --data-location "s3://$bucket/planted/interactions.csv" >/dev/null

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
python3 -c 'import json,sys; n=[g["name"] for g in json.load(open(sys.argv[1]))["datasetGroups"]]; assert n==["smoke","smoke-train","smoke-two"], n' "$work/groups.json"

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

two=arn:aws:personalize:us-east-1:000000000000:dataset-group/smoke-two
schema=$(p create-schema --name smoke-items --schema "file://$here/fixtures/schemas/items.json" \
  --query schemaArn --output text)
[ "$schema" = arn:aws:personalize:us-east-1:000000000000:schema/smoke-items ] || { echo "schema ARN $schema" >&2; exit 1; }
p describe-schema --schema-arn "$schema" >"$work/schema.json"
python3 - "$work/schema.json" "$here/fixtures/schemas/items.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["schema"]
assert s["name"] == "smoke-items", s
assert s["schema"] == open(sys.argv[2]).read(), s["schema"]
assert json.loads(s["schema"])["name"] == "Items", s
PY
p list-schemas >"$work/schemas.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["schemas"]; assert [(x["name"], x["schemaArn"]) for x in s]==[("smoke-items", sys.argv[2])] and "schema" not in s[0], s' "$work/schemas.json" "$schema"

dataset=$(p create-dataset --name smoke-items --dataset-type Items --dataset-group-arn "$two" \
  --schema-arn "$schema" --query datasetArn --output text)
[ "$dataset" = arn:aws:personalize:us-east-1:000000000000:dataset/smoke-two/ITEMS ] || { echo "dataset ARN $dataset" >&2; exit 1; }
p describe-dataset --dataset-arn "$dataset" >"$work/dataset.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["dataset"]; assert (d["name"], d["datasetType"], d["status"], d["schemaArn"], d["datasetGroupArn"])==("smoke-items", "ITEMS", "ACTIVE", sys.argv[2], sys.argv[3]), d' "$work/dataset.json" "$schema" "$two"
p list-datasets --dataset-group-arn "$two" >"$work/datasets.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["datasets"]; assert [(x["datasetArn"], x["datasetType"], x["status"]) for x in d]==[(sys.argv[2], "ITEMS", "ACTIVE")], d' "$work/datasets.json" "$dataset"

p tag-resource --resource-arn "$dataset" --tags tagKey=team,tagValue=search tagKey=env,tagValue=ci >/dev/null
p list-tags-for-resource --resource-arn "$dataset" >"$work/tags.json"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tags"]; assert sorted((x["tagKey"], x["tagValue"]) for x in t)==[("env", "ci"), ("team", "search")], t' "$work/tags.json"
p untag-resource --resource-arn "$dataset" --tag-keys team >/dev/null
p list-tags-for-resource --resource-arn "$dataset" >"$work/tags.json"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tags"]; assert [(x["tagKey"], x["tagValue"]) for x in t]==[("env", "ci")], t' "$work/tags.json"

if p delete-schema --schema-arn "$schema" 2>"$work/inuse.err"; then echo "schema in use deleted" >&2; exit 1; fi
grep -q ResourceInUseException "$work/inuse.err" || { cat "$work/inuse.err" >&2; exit 1; }

p delete-dataset --dataset-arn "$dataset"
p list-datasets --dataset-group-arn "$two" >"$work/datasets.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["datasets"]; assert d==[], d' "$work/datasets.json"
if p describe-dataset --dataset-arn "$dataset" 2>"$work/gone.err"; then echo "deleted dataset described" >&2; exit 1; fi
grep -q ResourceNotFoundException "$work/gone.err"
p delete-schema --schema-arn "$schema"
p list-schemas >"$work/schemas.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["schemas"]; assert s==[], s' "$work/schemas.json"
p delete-dataset-group --dataset-group-arn "$two"
if p describe-dataset-group --dataset-group-arn "$two" 2>"$work/gone.err"; then echo "deleted group described" >&2; exit 1; fi
grep -q ResourceNotFoundException "$work/gone.err"
p list-dataset-groups >"$work/groups.json"
python3 -c 'import json,sys; n=[g["name"] for g in json.load(open(sys.argv[1]))["datasetGroups"]]; assert n==["smoke","smoke-train"], n' "$work/groups.json"
# The real-time path: a tracker, events and users put through `aws personalize-events` on the
# same port, then an export of the records put one by one.
tracker=$(p create-event-tracker --name smoke-tracker --dataset-group-arn "$group" \
  --query trackingId --output text)
e() { aws --endpoint-url "$api" personalize-events "$@"; }
e put-events --tracking-id "$tracker" --user-id smoke-put --session-id s1 \
  --event-list '[{"eventType": "click", "itemId": "i9", "sentAt": 1700000000}, {"eventType": "view", "itemId": "i8", "sentAt": 1700000001}]'
e put-users --dataset-arn arn:aws:personalize:us-east-1:000000000000:dataset/smoke/USERS \
  --users '[{"userId": "smoke-put", "properties": "{\"age\": 41, \"membership\": \"gold\"}"}]'
if e put-events --tracking-id "$tracker" --session-id s1 \
  --event-list '[{"eventType": "click", "itemId": "i9", "sentAt": 1, "properties": "{\"shoeSize\": 4}"}]' 2>"$work/bad.err"; then
  echo "an unknown property was accepted" >&2; exit 1
fi
grep -q 'InvalidInputException.*shoeSize' "$work/bad.err" || { cat "$work/bad.err" >&2; exit 1; }
p describe-dataset --dataset-arn arn:aws:personalize:us-east-1:000000000000:dataset/smoke/INTERACTIONS \
  --query dataset.trackingId --output text | grep -qx "$tracker"
export_job=$(p create-dataset-export-job --job-name smoke-puts \
  --dataset-arn arn:aws:personalize:us-east-1:000000000000:dataset/smoke/INTERACTIONS \
  --ingestion-mode PUT --role-arn arn:aws:iam::123456789012:role/PersonalizeRole \
  --job-output "s3DataDestination={path=s3://$bucket/exports/}" --query datasetExportJobArn --output text)
for _ in $(seq 1 100); do
  status=$(p describe-dataset-export-job --dataset-export-job-arn "$export_job" --query datasetExportJob.status --output text)
  [ "$status" = ACTIVE ] || [ "$status" = "CREATE FAILED" ] && break
  sleep 0.1
done
[ "$status" = ACTIVE ] || { echo "export $status" >&2; exit 1; }
aws --endpoint-url "$s3" s3 cp --quiet "s3://$bucket/exports/smoke-puts.csv" "$work/puts.csv"
printf 'USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nsmoke-put,i9,1700000000,click\nsmoke-put,i8,1700000001,view\n' | diff - "$work/puts.csv"
tracker_arn=$(p list-event-trackers --dataset-group-arn "$group" --query 'eventTrackers[0].eventTrackerArn' --output text)
p describe-event-tracker --event-tracker-arn "$tracker_arn" --query eventTracker.trackingId --output text | grep -qx "$tracker"

# Items, Actions and Action_Interactions datasets with schemas, each given a record through
# personalize-events; then the Items schema replaced with one that adds a nullable field.
mk() { # TYPE SCHEMA_TEXT -> dataset ARN
  local arn
  arn=$(p create-schema --name "smoke-$1" --schema "$2" --query schemaArn --output text)
  p create-dataset --name "smoke-$1" --dataset-type "$1" --dataset-group-arn "$group" \
    --schema-arn "$arn" --query datasetArn --output text
}
items=$(mk Items "$(cat "$here/fixtures/schemas/items.json")")
actions=$(mk Actions '{"type": "record", "name": "Actions", "namespace": "com.amazonaws.personalize.schema", "fields": [{"name": "ACTION_ID", "type": "string"}, {"name": "VALUE", "type": ["null", "int"]}], "version": "1.0"}')
action_inter=$(mk Action_Interactions "$(cat "$here/fixtures/schemas/action_interactions.json")")
e put-items --dataset-arn "$items" \
  --items '[{"itemId": "i9", "properties": "{\"category\": \"shoes\", \"creationTimestamp\": 1700000000}"}]'
e put-actions --dataset-arn "$actions" --actions '[{"actionId": "a1", "properties": "{\"value\": 100}"}]'
action_tracker=$(p describe-dataset --dataset-arn "$action_inter" --query dataset.trackingId --output text)
e put-action-interactions --tracking-id "$action_tracker" \
  --action-interactions '[{"actionId": "a1", "userId": "smoke-put", "sessionId": "s1", "timestamp": 1700000002, "eventType": "Taken"}]'
items_v2=$(p create-schema --name smoke-items-v2 --query schemaArn --output text --schema \
  '{"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema", "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "CATEGORY", "type": "string", "categorical": true}, {"name": "CREATION_TIMESTAMP", "type": "long"}, {"name": "COLOR", "type": ["null", "string"]}], "version": "1.0"}')
p update-dataset --dataset-arn "$items" --schema-arn "$items_v2" --query datasetArn --output text | grep -qx "$items"
p describe-dataset --dataset-arn "$items" >"$work/items.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["dataset"]; u=d["latestDatasetUpdate"]; assert d["schemaArn"]==sys.argv[2] and u["schemaArn"]==sys.argv[2] and u["status"]=="ACTIVE", d' "$work/items.json" "$items_v2"
e put-items --dataset-arn "$items" \
  --items '[{"itemId": "i10", "properties": "{\"category\": \"hats\", \"creationTimestamp\": 1700000000, \"color\": \"red\"}"}]'

# What was put for smoke-put is purged like anything else: 2 events, 1 user, 1 action
# interaction.
printf 'USER_ID\nsmoke-put\n' >"$work/forget.csv"
aws --endpoint-url "$s3" s3 cp --quiet "$work/forget.csv" "s3://$bucket/forget-put/forget.csv"
job=$(p create-data-deletion-job --job-name smoke-put-job --dataset-group-arn "$group" \
  --data-source "dataLocation=s3://$bucket/forget-put/forget.csv" \
  --role-arn arn:aws:iam::123456789012:role/PersonalizeRole --query dataDeletionJobArn --output text)
for _ in $(seq 1 100); do
  status=$(p describe-data-deletion-job --data-deletion-job-arn "$job" --query dataDeletionJob.status --output text)
  [ "$status" = COMPLETED ] || [ "$status" = FAILED ] && break
  sleep 0.1
done
deleted=$(p describe-data-deletion-job --data-deletion-job-arn "$job" --query dataDeletionJob.numDeleted --output text)
[ "$status" = COMPLETED ] && [ "$deleted" = 4 ] || { echo "deleting what was put: $status, numDeleted $deleted" >&2; exit 1; }
p delete-event-tracker --event-tracker-arn "$tracker_arn"

# The recipe catalog.
recipes=$(p list-recipes --query 'length(recipes)' --output text)
vod=$(p list-recipes --domain VIDEO_ON_DEMAND --query 'length(recipes)' --output text)
[ "$recipes" = 25 ] && [ "$vod" = 5 ] || { echo "list-recipes: $recipes recipes, $vod for VIDEO_ON_DEMAND" >&2; exit 1; }
algorithm=$(p describe-recipe --recipe-arn arn:aws:personalize:::recipe/aws-similar-items   --query recipe.algorithmArn --output text)
p describe-algorithm --algorithm-arn "$algorithm" --query algorithm.name --output text | grep -qx aws-similar-items

# A solution on the fixtures' few interactions: its version fails, saying what is missing.
solution=$(p create-solution --name smoke-solution --dataset-group-arn "$group" \
  --recipe-arn arn:aws:personalize:::recipe/aws-user-personalization-v2 --query solutionArn --output text)
for _ in $(seq 1 100); do
  [ "$(p describe-solution --solution-arn "$solution" --query solution.status --output text)" = ACTIVE ] && break
  sleep 0.1
done
version=$(p create-solution-version --solution-arn "$solution" --query solutionVersionArn --output text)
for _ in $(seq 1 300); do
  status=$(p describe-solution-version --solution-version-arn "$version" --query solutionVersion.status --output text)
  [ "$status" = ACTIVE ] || [ "$status" = "CREATE FAILED" ] && break
  sleep 0.1
done
reason=$(p describe-solution-version --solution-version-arn "$version" --query solutionVersion.failureReason --output text)
[ "$status" = "CREATE FAILED" ] && [[ "$reason" == *"at least 1000"* ]] || { echo "solution version: $status, $reason" >&2; exit 1; }
[ "$(p list-solutions --dataset-group-arn "$group" --query 'length(solutions)' --output text)" = 1 ]
echo "aws cli smoke: too little data to train: $reason"

# A solution of each family on the planted interactions trains to ACTIVE; user-personalization's
# precision_at_10 shows the structure popularity cannot see.
train() { # RECIPE -> version ARN and precision_at_10
  local sol ver st
  sol=$(p create-solution --name "smoke-$1" --dataset-group-arn "$train_group" \
    --recipe-arn "arn:aws:personalize:::recipe/$1" --query solutionArn --output text)
  for _ in $(seq 1 100); do
    [ "$(p describe-solution --solution-arn "$sol" --query solution.status --output text)" = ACTIVE ] && break
    sleep 0.1
  done
  ver=$(p create-solution-version --solution-arn "$sol" --query solutionVersionArn --output text)
  for _ in $(seq 1 300); do
    st=$(p describe-solution-version --solution-version-arn "$ver" --query solutionVersion.status --output text)
    [ "$st" = ACTIVE ] || [ "$st" = "CREATE FAILED" ] && break
    sleep 0.2
  done
  [ "$st" = ACTIVE ] || { echo "$1: version $st" >&2; return 1; }
  echo "$ver $(p get-solution-metrics --solution-version-arn "$ver" --query metrics.precision_at_10 --output text)"
}
train_group=arn:aws:personalize:us-east-1:000000000000:dataset-group/smoke-train
declare -A precision versions
for recipe in aws-user-personalization-v2 aws-popularity-count aws-trending-now aws-sims \
  aws-item-affinity aws-personalized-ranking-v2; do
  read -r versions[$recipe] precision[$recipe] < <(train "$recipe")
done
up=${precision[aws-user-personalization-v2]} pop=${precision[aws-popularity-count]}
python3 -c 'import sys; up, pop = map(float, sys.argv[1:]); assert up >= 2 * pop > 0, (up, pop)' "$up" "$pop"
echo "aws cli smoke: 6 solutions trained; precision_at_10 $up vs popularity $pop"

# Campaigns answer through `aws personalize-runtime` on the same port: u0's recommendations
# are items of its own planted group (item number % 6 == 0); a filter takes out what u5 clicked.
r() { aws --endpoint-url "$api" personalize-runtime "$@"; }
campaign() { # NAME VERSION -> campaign ARN, once ACTIVE
  local arn
  arn=$(p create-campaign --name "$1" --solution-version-arn "$2" --query campaignArn --output text)
  for _ in $(seq 1 100); do
    [ "$(p describe-campaign --campaign-arn "$arn" --query campaign.status --output text)" = ACTIVE ] && break
    sleep 0.1
  done
  echo "$arn"
}
up_campaign=$(campaign smoke-up "${versions[aws-user-personalization-v2]}")
pop_campaign=$(campaign smoke-pop "${versions[aws-popularity-count]}")
mine=$(r get-recommendations --campaign-arn "$up_campaign" --user-id u0 --num-results 10 --query 'itemList[].itemId' --output text)
python3 -c 'import sys; ids = sys.argv[1].split(); own = sum(int(i[1:]) % 6 == 0 for i in ids); assert len(ids) == 10 and own >= 7, ids' "$mine"
unclicked=$(p create-filter --name smoke-unclicked --dataset-group-arn "$train_group" \
  --filter-expression 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")' --query filterArn --output text)
for _ in $(seq 1 100); do
  [ "$(p describe-filter --filter-arn "$unclicked" --query filter.status --output text)" = ACTIVE ] && break
  sleep 0.1
done
clicked=$(grep '^u5,' "$work/planted.csv" | cut -d, -f2 | sort -u)
left=$(r get-recommendations --campaign-arn "$pop_campaign" --user-id u5 --num-results 10 --filter-arn "$unclicked" --query 'itemList[].itemId' --output text)
for i in $left; do grep -qx "$i" <<<"$clicked" && { echo "filtered answer has clicked $i" >&2; exit 1; }; done
[ "$(wc -w <<<"$left")" = 10 ]
if p create-filter --name smoke-bad --dataset-group-arn "$train_group" --filter-expression 'INCLUDE ItemID Items.X IN ("a")' 2>"$work/filter.err"; then
  echo "bad filter accepted" >&2; exit 1
fi
grep -q 'InvalidInputException.*position 16' "$work/filter.err"
echo "aws cli smoke: campaigns answer through personalize-runtime: u0 gets $mine; a filter takes out what u5 clicked"

# StopSolutionVersionCreation on a server without a worker: the version waits, and the stop
# ends it CREATE STOPPED.
"$bin" --data-dir "$work/no-worker" serve --port 0 --transition-ms 0 --no-worker >"$work/nw.out" 2>"$work/nw.err" &
nw=$!
trap 'kill $pid $nw 2>/dev/null || true; wait $pid $nw 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q 'listening on' "$work/nw.out" 2>/dev/null && break; sleep 0.1; done
nw_api=$(grep -o 'http://[0-9.:]*' "$work/nw.out" | head -n 1)
q() { aws --endpoint-url "$nw_api" personalize "$@"; }
stop_group=$(q create-dataset-group --name smoke-stop --query datasetGroupArn --output text)
stop_sol=$(q create-solution --name smoke-stop --dataset-group-arn "$stop_group" \
  --recipe-arn arn:aws:personalize:::recipe/aws-popularity-count --query solutionArn --output text)
stop_ver=$(q create-solution-version --solution-arn "$stop_sol" --query solutionVersionArn --output text)
[ "$(q describe-solution-version --solution-version-arn "$stop_ver" --query solutionVersion.status --output text)" = "CREATE PENDING" ]
q stop-solution-version-creation --solution-version-arn "$stop_ver"
status=$(q describe-solution-version --solution-version-arn "$stop_ver" --query solutionVersion.status --output text)
[ "$status" = "CREATE STOPPED" ] || { echo "stopped version: $status" >&2; exit 1; }
if q stop-solution-version-creation --solution-version-arn "$stop_ver" 2>"$work/stop.err"; then echo "second stop accepted" >&2; exit 1; fi
grep -q ResourceInUseException "$work/stop.err"
echo "aws cli smoke: a stopped version ends CREATE STOPPED"
echo "aws cli smoke: passed"
