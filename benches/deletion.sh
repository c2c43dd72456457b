#!/usr/bin/env bash
# Times the data deletion job on a workload folder in the layout of shared/bench/gen.py
# (users.csv, interactions.csv, items.csv, deletions/**, expected.json), with every input
# served by a moto S3 server on loopback and the default (SQLite) store.
#
#   benches/deletion.sh DATA_DIR [RUNS]
#
# Imports the three datasets once, then runs the job RUNS times (default 3), each on a fresh
# copy of the loaded store, and prints one JSON line per run (phase seconds, wall seconds, peak
# RSS, counts) and whether the counts match expected.json exactly (a mismatch exits 1).
set -euo pipefail
data=$(cd "${1:?usage: benches/deletion.sh DATA_DIR [RUNS]}" && pwd)
runs=${2:-3}
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/personalize-local
command -v moto_server >/dev/null || python3 -m pip install -q "moto[server]"
command -v aws >/dev/null || python3 -m pip install -q awscli

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true PERSONALIZE_LOCAL_S3_ENDPOINT=http://127.0.0.1:$port
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.2; done
aws --endpoint-url "$PERSONALIZE_LOCAL_S3_ENDPOINT" s3 mb s3://bench >/dev/null
aws --endpoint-url "$PERSONALIZE_LOCAL_S3_ENDPOINT" s3 cp --recursive --quiet "$data/" s3://bench/ \
  --exclude '*' --include '*.csv'

for t in Users:users Items:items Interactions:interactions; do
  /usr/bin/time -f '%e' -o "$work/time" "$bin" --data-dir "$work/loaded" import --dataset-group bench \
    --dataset-type "${t%%:*}" --data-location "s3://bench/${t##*:}.csv" >/dev/null
  echo "{\"import\": \"${t%%:*}\", \"wallSeconds\": $(tail -n 1 "$work/time")}"
done

status=0
for run in $(seq 1 "$runs"); do
  rm -rf "$work/store" && cp -r "$work/loaded" "$work/store" && sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" --data-dir "$work/store" delete-users \
    --dataset-group bench --data-location s3://bench/deletions/ --job-name "run-$run" >"$work/job.json" 2>/dev/null || true
  python3 - "$work/job.json" "$work/time" "$data/expected.json" "$run" <<'PY' || status=1
import json, sys
job, (wall, rss_kb), want = json.load(open(sys.argv[1])), open(sys.argv[2]).read().split()[-2:], json.load(open(sys.argv[3]))
per = job["numDeletedPerDataset"]
exact = (job["dataDeletionJob"]["status"] == "COMPLETED"
         and job["dataDeletionJob"]["numDeleted"] == want["records_deleted"]
         and per.get("Users", 0) == want["users_rows_deleted"]
         and per.get("Interactions", 0) == want["interactions_rows_deleted"]
         and job["input"]["distinctIds"] == want["distinct_ids"])
print(json.dumps({"run": int(sys.argv[4]), "phaseSeconds": job["phaseSeconds"], "wallSeconds": float(wall),
                  "peakRssMB": round(int(rss_kb) / 1024), "numDeleted": job["dataDeletionJob"].get("numDeleted"),
                  "distinctIds": job["input"]["distinctIds"], "exact": exact}))
sys.exit(0 if exact else 1)
PY
done
exit $status
