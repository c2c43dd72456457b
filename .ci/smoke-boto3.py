#!/usr/bin/env python3
"""Smoke flow with boto3 against the built binary: the server runs while the CLI imports
records into it; dataset groups, schemas, datasets, a data deletion job, tags, a paginator
and modeled errors go through the real Personalize client, in region eu-west-1; events and
users through the real Personalize Events client, on the same port.

    python3 .ci/smoke-boto3.py BINARY S3_ENDPOINT
"""
import csv
import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from smoke_common import check, expect_error, fail, planted_csv, planted_group, poll
import smoke_serving

REGION = "eu-west-1"
ACCOUNT = "000000000000"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "fixtures" / "s3" / "tests"


def csv_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def expected_deletions():
    ids = set()
    for f in (TESTS / "deletion-nested").rglob("*"):
        if f.is_file():
            ids |= {r[0] for r in csv_rows(f) if r and r[0] != "USER_ID"}
    return sum(1 for name in ("users.csv", "interactions.csv")
               for r in csv_rows(TESTS / "datasets" / name)[1:] if r and r[0] in ids)


def upload_fixtures(s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    bucket = f"boto-smoke-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    for f in TESTS.rglob("*"):
        if f.is_file():
            s3.upload_file(str(f), bucket, f.relative_to(TESTS).as_posix())
    return bucket


def wait_for_url(server, seconds=30):
    with selectors.DefaultSelector() as sel:
        sel.register(server.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sel.select(deadline - time.monotonic()):
            line = server.stdout.readline()
            if not line:
                return None
            url = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
            if url:
                return url.group(1)
    return None


def run(binary, s3_endpoint, tmp):
    bucket = upload_fixtures(s3_endpoint)
    env = dict(os.environ, PERSONALIZE_LOCAL_S3_ENDPOINT=s3_endpoint, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    data_dir = os.path.join(tmp, "data")
    with open(os.path.join(tmp, "serve.err"), "w+") as err:
        server = subprocess.Popen(
            [binary, "--data-dir", data_dir, "serve", "--port", "0", "--transition-ms", "300"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            url = wait_for_url(server)
            if url is None:
                try:
                    state = f"exit status {server.wait(timeout=2)}"
                except subprocess.TimeoutExpired:
                    state = "still running"
                err.seek(0)
                fail(f"the server did not start listening ({state}):\n{err.read()}")
            flow(binary, data_dir, env, bucket, url)
        finally:
            server.kill()
            server.wait()
    stop_flow(binary, env, tmp)


def stop_flow(binary, env, tmp):
    """StopSolutionVersionCreation on a server that only records jobs (no worker): the
    version waits, PENDING, and the stop ends it CREATE STOPPED."""
    server = subprocess.Popen(
        [binary, "--data-dir", os.path.join(tmp, "no-worker"), "serve", "--port", "0",
         "--transition-ms", "0", "--no-worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = wait_for_url(server)
        check(url is not None, "the --no-worker server did not start")
        p = boto3.client("personalize", endpoint_url=url, region_name=REGION,
                         aws_access_key_id="test", aws_secret_access_key="test")
        group = p.create_dataset_group(name="boto-stop")["datasetGroupArn"]
        sol = p.create_solution(name="boto-stop", datasetGroupArn=group,
                                recipeArn="arn:aws:personalize:::recipe/aws-popularity-count")["solutionArn"]
        ver = p.create_solution_version(solutionArn=sol)["solutionVersionArn"]
        status = p.describe_solution_version(solutionVersionArn=ver)["solutionVersion"]["status"]
        check(status == "CREATE PENDING", f"a version with no worker is {status}")
        p.stop_solution_version_creation(solutionVersionArn=ver)
        v = p.describe_solution_version(solutionVersionArn=ver)["solutionVersion"]
        check(v["status"] == "CREATE STOPPED" and "failureReason" not in v, f"stopped version {v}")
        expect_error("ResourceInUseException", p.stop_solution_version_creation, solutionVersionArn=ver)
        print("boto3 smoke: a stopped version ends CREATE STOPPED")
    finally:
        server.kill()
        server.wait()


def recipes_flow(p):
    """The recipe catalog, paged with boto3's paginator."""
    names = [r["name"] for page in p.get_paginator("list_recipes").paginate(PaginationConfig={"PageSize": 7})
             for r in page["recipes"]]
    check(len(names) == 25 and len(set(names)) == 25, f"recipes {names}")
    ecomm = p.list_recipes(domain="ECOMMERCE")["recipes"]
    check(len(ecomm) == 5 and all(r["domain"] == "ECOMMERCE" for r in ecomm), f"ECOMMERCE recipes {ecomm}")
    r = p.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-personalized-ranking-v2")["recipe"]
    check(r["recipeType"] == "PERSONALIZED_RANKING", f"recipe {r}")
    a = p.describe_algorithm(algorithmArn=r["algorithmArn"])["algorithm"]
    check(a["algorithmImage"]["dockerURI"] and "neighbours" in a["defaultHyperParameters"], f"algorithm {a}")
    f = p.describe_feature_transformation(featureTransformationArn=r["featureTransformationArn"])
    check(f["featureTransformation"]["status"] == "ACTIVE", f"feature transformation {f}")
    expect_error("ResourceNotFoundException", p.describe_recipe,
                 recipeArn="arn:aws:personalize:::recipe/aws-nothing")
    print(f"boto3 smoke: {len(names)} recipes listed and described")


def training_flow(p, env, bucket):
    """Solutions trained from planted data; their metrics show it; too little data fails."""
    s3 = boto3.client("s3", endpoint_url=env["PERSONALIZE_LOCAL_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    s3.put_object(Bucket=bucket, Key="planted/interactions.csv", Body=planted_csv().encode())
    group = planted_group(p, bucket, "boto-train", ROLE)
    precision, versions = {}, {}
    recipes = ("aws-user-personalization-v2", "aws-popularity-count", "aws-trending-now", "aws-sims",
               "aws-item-affinity", "aws-personalized-ranking-v2")
    for recipe in recipes:
        sol = p.create_solution(name=f"boto-{recipe}", datasetGroupArn=group,
                                recipeArn=f"arn:aws:personalize:::recipe/{recipe}")["solutionArn"]
        poll(lambda: p.describe_solution(solutionArn=sol), "solution", {"ACTIVE"})
        ver = p.create_solution_version(solutionArn=sol)["solutionVersionArn"]
        check(ver.startswith(sol + "/"), f"version ARN {ver}")
        v, _ = poll(lambda: p.describe_solution_version(solutionVersionArn=ver), "solutionVersion",
                    {"ACTIVE", "CREATE FAILED"}, seconds=60)
        check(v["status"] == "ACTIVE", f"{recipe} version {v}")
        metrics = p.get_solution_metrics(solutionVersionArn=ver)["metrics"]
        check({"coverage", "mean_reciprocal_rank_at_25", "precision_at_10",
               "normalized_discounted_cumulative_gain_at_10"} <= set(metrics), f"{recipe} metrics {metrics}")
        precision[recipe] = metrics["precision_at_10"]
        versions[recipe] = ver
    # Next best action from action interactions, semantic similarity from item text.
    actions = planted_csv().replace("USER_ID,ITEM_ID", "USER_ID,ACTION_ID").replace(",i", ",a").replace(",click", ",TAKEN")
    s3.put_object(Bucket=bucket, Key="planted/action_interactions.csv", Body=actions.encode())
    items = "ITEM_ID,DESCRIPTION\n" + "".join(
        f"boot{k},leather hiking boots model {k}\nbook{k},italian pasta cookbook volume {k}\n" for k in range(20))
    s3.put_object(Bucket=bucket, Key="planted/items.csv", Body=items.encode())
    items_schema = json.dumps({"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
                               "fields": [{"name": "ITEM_ID", "type": "string"},
                                          {"name": "DESCRIPTION", "type": "string", "textual": True}],
                               "version": "1.0"})
    for kind, fixture, schema_text in (
            ("Action_Interactions", "action_interactions",
             (ROOT / "fixtures" / "schemas" / "action_interactions.json").read_text()),
            ("Items", "items", items_schema)):
        arn = p.create_schema(name=f"boto-train-{fixture}", schema=schema_text)["schemaArn"]
        ds = p.create_dataset(name=f"boto-train-{fixture}", schemaArn=arn, datasetGroupArn=group,
                              datasetType=kind)["datasetArn"]
        poll(lambda: p.describe_dataset(datasetArn=ds), "dataset", {"ACTIVE"})
        imp = p.create_dataset_import_job(jobName=f"boto-train-{fixture}", datasetArn=ds, roleArn=ROLE,
                                          dataSource={"dataLocation": f"s3://{bucket}/planted/{fixture}.csv"})
        j, _ = poll(lambda: p.describe_dataset_import_job(datasetImportJobArn=imp["datasetImportJobArn"]),
                    "datasetImportJob", {"ACTIVE", "CREATE FAILED"}, seconds=60)
        check(j["status"] == "ACTIVE", f"{kind} import {j}")
    for recipe, metric in (("aws-next-best-action", "precision_at_5"), ("aws-semantic-similarity", "coverage")):
        sol = p.create_solution(name=f"boto-{recipe}", datasetGroupArn=group,
                                recipeArn=f"arn:aws:personalize:::recipe/{recipe}")["solutionArn"]
        poll(lambda: p.describe_solution(solutionArn=sol), "solution", {"ACTIVE"})
        ver = p.create_solution_version(solutionArn=sol)["solutionVersionArn"]
        v, _ = poll(lambda: p.describe_solution_version(solutionVersionArn=ver), "solutionVersion",
                    {"ACTIVE", "CREATE FAILED"}, seconds=60)
        check(v["status"] == "ACTIVE", f"{recipe} version {v}")
        metrics = p.get_solution_metrics(solutionVersionArn=ver)["metrics"]
        check(metrics.get(metric, 0) > 0, f"{recipe} metrics {metrics}")
    recipes += ("aws-next-best-action", "aws-semantic-similarity")

    up, pop = precision["aws-user-personalization-v2"], precision["aws-popularity-count"]
    check(up >= 2 * pop, f"precision_at_10: user-personalization {up}, popularity {pop}")
    sols = p.list_solutions(datasetGroupArn=group)["solutions"]
    check(len(sols) == len(recipes), f"solutions {sols}")

    # The fixtures' group has 80 interactions: too little to train on.
    small = p.list_dataset_groups()["datasetGroups"]
    small = next(g["datasetGroupArn"] for g in small if g["name"] == "boto")
    sol = p.create_solution(name="boto-small", datasetGroupArn=small,
                            recipeArn="arn:aws:personalize:::recipe/aws-user-personalization")["solutionArn"]
    poll(lambda: p.describe_solution(solutionArn=sol), "solution", {"ACTIVE"})
    ver = p.create_solution_version(solutionArn=sol)["solutionVersionArn"]
    v, _ = poll(lambda: p.describe_solution_version(solutionVersionArn=ver), "solutionVersion",
                {"ACTIVE", "CREATE FAILED"}, seconds=60)
    check(v["status"] == "CREATE FAILED" and "at least 1000" in v["failureReason"], f"small version {v}")
    expect_error("ResourceInUseException", p.get_solution_metrics, solutionVersionArn=ver)
    print(f"boto3 smoke: {len(recipes)} solutions trained, precision_at_10 {up} vs popularity {pop}; too little data: "
          f"{v['failureReason']}")
    return group, versions


def flow(binary, data_dir, env, bucket, url):
    p = boto3.client("personalize", endpoint_url=url, region_name=REGION,
                     aws_access_key_id="test", aws_secret_access_key="test")
    prefix = f"arn:aws:personalize:{REGION}:{ACCOUNT}:"
    recipes_flow(p)

    group = p.create_dataset_group(name="boto")["datasetGroupArn"]
    check(group == f"{prefix}dataset-group/boto", f"group ARN {group}")
    _, seen = poll(lambda: p.describe_dataset_group(datasetGroupArn=group), "datasetGroup",
                   {"ACTIVE"})
    check(seen[-1] == "ACTIVE" and {"CREATE PENDING", "CREATE IN_PROGRESS"} & set(seen[:-1]),
          f"group statuses {seen}")

    datasets = {}
    for kind in ("Users", "Interactions"):
        text = (ROOT / "fixtures" / "schemas" / f"{kind.lower()}.json").read_text()
        schema = p.create_schema(name=f"boto-{kind.lower()}", schema=text)["schemaArn"]
        check(schema == f"{prefix}schema/boto-{kind.lower()}", f"schema ARN {schema}")
        arn = p.create_dataset(name=f"boto-{kind.lower()}", schemaArn=schema,
                               datasetGroupArn=group, datasetType=kind)["datasetArn"]
        check(arn == f"{prefix}dataset/boto/{kind.upper()}", f"dataset ARN {arn}")
        d, _ = poll(lambda: p.describe_dataset(datasetArn=arn), "dataset", {"ACTIVE"})
        check(d["schemaArn"] == schema and d["datasetGroupArn"] == group, f"dataset {d}")
        datasets[kind] = arn

    for kind in ("Users", "Interactions"):
        cmd = [binary, "--data-dir", data_dir, "--region", REGION, "import", "--dataset-group",
               "boto", "--dataset-type", kind,
               "--data-location", f"s3://{bucket}/datasets/{kind.lower()}.csv"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        check(done.returncode == 0,
              f"import {kind} exited {done.returncode}: {done.stdout}{done.stderr}")
        report = json.loads(done.stdout)
        rows = len(csv_rows(TESTS / "datasets" / f"{kind.lower()}.csv")) - 1
        check(report["datasetArn"] == datasets[kind] and report["records"] == rows,
              f"import {kind}: {report}, expected {rows} records into {datasets[kind]}")

    job = p.create_data_deletion_job(
        jobName="boto-job", datasetGroupArn=group, roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{bucket}/deletion-nested/"},
        tags=[{"tagKey": "ticket", "tagValue": "GDPR-7"}])["dataDeletionJobArn"]
    check(job.startswith(f"{prefix}data-deletion-job/"), f"job ARN {job}")
    j, _ = poll(lambda: p.describe_data_deletion_job(dataDeletionJobArn=job), "dataDeletionJob",
                {"COMPLETED", "FAILED"})
    want = expected_deletions()
    check(j["status"] == "COMPLETED", f"job {j}")
    check(j["numDeleted"] == want, f"numDeleted {j['numDeleted']}, expected {want}")
    jobs = p.list_data_deletion_jobs(datasetGroupArn=group)["dataDeletionJobs"]
    check([x["dataDeletionJobArn"] for x in jobs] == [job], f"jobs {jobs}")
    # The members of the model's DataDeletionJobSummary, and no others (no roleArn,
    # dataSource or numDeleted); failureReason only for a failed job.
    summary = p.meta.service_model.shape_for("DataDeletionJobSummary").members
    check(set(jobs[0]) == set(summary) - {"failureReason"}, f"job summary {sorted(jobs[0])}")
    tags = p.list_tags_for_resource(resourceArn=job)["tags"]
    check(tags == [{"tagKey": "ticket", "tagValue": "GDPR-7"}], f"job tags {tags}")

    for name in ("boto-two", "boto-three"):
        p.create_dataset_group(name=name)
    paginator = p.get_paginator("list_dataset_groups")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    names = [g["name"] for page in pages for g in page["datasetGroups"]]
    check(names == ["boto", "boto-two", "boto-three"], f"paginated names {names}")
    check(len(pages) >= 3, f"{len(pages)} pages of one group each")

    e = expect_error("ResourceNotFoundException", p.describe_dataset_group,
                     datasetGroupArn=f"{prefix}dataset-group/nope")
    check(isinstance(e, p.exceptions.ResourceNotFoundException), f"raised {type(e).__name__}")
    expect_error("InvalidInputException", p.create_dataset_group, name="bad name!")
    expect_error("ResourceAlreadyExistsException", p.create_dataset_group, name="boto")
    expect_error("InvalidNextTokenException", p.list_schemas, nextToken="forged")
    expect_error("InvalidNextTokenException", p.list_data_deletion_jobs, nextToken="forged")
    expect_error("ResourceInUseException", p.delete_dataset_group, datasetGroupArn=group)
    events_flow(p, env, bucket, url, group, datasets)
    train_group, versions = training_flow(p, env, bucket)
    smoke_serving.flow(p, env, url, bucket, train_group, versions, (binary, data_dir))
    import urllib3

    # Failure injection: boto3 retries a ThrottlingException (the default legacy mode makes
    # up to 5 attempts), and a client that may not retry sees it; a job fault ends a data
    # deletion job FAILED with its reason.
    http = urllib3.PoolManager()

    def fault(spec):
        r = http.request("POST", f"{url}/_personalize-local/faults", body=json.dumps(spec),
                         headers={"Content-Type": "application/json"})
        check(r.status == 200, f"adding the fault {spec}: {r.status} {r.data!r}")

    fault({"operation": "DescribeDatasetGroup", "errorCode": "ThrottlingException", "count": 2})
    p.describe_dataset_group(datasetGroupArn=group)
    once = boto3.client("personalize", endpoint_url=url, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    fault({"operation": "DescribeDatasetGroup", "errorCode": "ThrottlingException"})
    expect_error("ThrottlingException", once.describe_dataset_group, datasetGroupArn=group)
    reason = "injected: the role cannot read the bucket"
    fault({"jobKind": "DataDeletionJob", "failureReason": reason})
    failing = p.create_data_deletion_job(
        jobName="boto-fault", datasetGroupArn=group, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
        dataSource={"dataLocation": f"s3://{bucket}/deletion-nested/"})["dataDeletionJobArn"]
    j, _ = poll(lambda: p.describe_data_deletion_job(dataDeletionJobArn=failing),
                "dataDeletionJob", {"COMPLETED", "FAILED"})
    check(j["status"] == "FAILED" and j["failureReason"] == reason, f"job under a fault {j}")
    left = json.loads(http.request("GET", f"{url}/_personalize-local/faults").data)["faults"]
    check(left == [], f"faults left {left}")

    # A suite written for moto resets with a bare POST to /moto-api/reset.
    reset = http.request("POST", f"{url}/moto-api/reset")
    check(reset.status == 200, f"moto-api reset answered {reset.status}")
    left = p.list_dataset_groups()["datasetGroups"]
    check(left == [], f"after the reset {len(left)} groups are left")
    print(f"boto3 smoke: job COMPLETED, numDeleted {want}, ARNs in {REGION}, moto-api reset")


def events_flow(p, env, bucket, url, group, datasets):
    """An event tracker, events and users put through the personalize-events client on the
    same port, its modeled errors, and a deletion job that purges what was put."""
    tracker = p.create_event_tracker(name="boto-tracker", datasetGroupArn=group)
    check(tracker["eventTrackerArn"].startswith(f"arn:aws:personalize:{REGION}:{ACCOUNT}:event-tracker/"),
          f"tracker {tracker}")
    t, _ = poll(lambda: p.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"]),
                "eventTracker", {"ACTIVE"})
    check(t["trackingId"] == tracker["trackingId"] and t["datasetGroupArn"] == group, f"tracker {t}")
    ev = boto3.client("personalize-events", endpoint_url=url, region_name=REGION,
                      aws_access_key_id="test", aws_secret_access_key="test")
    ev.put_events(trackingId=tracker["trackingId"], userId="boto-put", sessionId="s1",
                  eventList=[{"eventType": "click", "itemId": "i1", "sentAt": 1700000000},
                             {"eventType": "view", "itemId": "i2", "sentAt": 1700000005.5}])
    ev.put_users(datasetArn=datasets["Users"],
                 users=[{"userId": "boto-put", "properties": json.dumps({"membership": "gold"})}])
    e = expect_error("InvalidInputException", ev.put_events, trackingId=tracker["trackingId"],
                     sessionId="s1", eventList=[{"eventType": "click", "itemId": "i1",
                                                 "sentAt": 1, "properties": '{"shoeSize": 4}'}])
    check(isinstance(e, ev.exceptions.InvalidInputException) and "shoeSize" in str(e), f"raised {e!r}")
    e = expect_error("ResourceNotFoundException", ev.put_users,
                     datasetArn=datasets["Users"].replace("/boto/", "/nope/"),
                     users=[{"userId": "u", "properties": "{}"}])
    check(isinstance(e, ev.exceptions.ResourceNotFoundException), f"raised {type(e).__name__}")
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"status {e.response}")

    listed = p.list_event_trackers(datasetGroupArn=group)["eventTrackers"]
    check([t["name"] for t in listed] == ["boto-tracker"] and "trackingId" not in listed[0],
          f"listed trackers {listed}")

    # Items, Actions and Action_Interactions datasets, a record put into each.
    def dataset(kind, text):
        schema = p.create_schema(name=f"boto-{kind.lower()}", schema=text)["schemaArn"]
        arn = p.create_dataset(name=f"boto-{kind.lower()}", schemaArn=schema,
                               datasetGroupArn=group, datasetType=kind)["datasetArn"]
        d, _ = poll(lambda: p.describe_dataset(datasetArn=arn), "dataset", {"ACTIVE"})
        return d

    fixture = lambda name: (ROOT / "fixtures" / "schemas" / f"{name}.json").read_text()
    items = dataset("Items", fixture("items"))["datasetArn"]
    actions = dataset("Actions", json.dumps({
        "type": "record", "name": "Actions", "namespace": "com.amazonaws.personalize.schema",
        "fields": [{"name": "ACTION_ID", "type": "string"}, {"name": "VALUE", "type": ["null", "int"]}],
        "version": "1.0"}))["datasetArn"]
    action_inter = dataset("Action_Interactions", fixture("action_interactions"))
    ev.put_items(datasetArn=items, items=[{"itemId": "i1", "properties": json.dumps(
        {"category": "shoes", "creationTimestamp": 1700000000})}])
    ev.put_actions(datasetArn=actions, actions=[{"actionId": "a1", "properties": '{"value": 3}'}])
    ev.put_action_interactions(trackingId=action_inter["trackingId"], actionInteractions=[
        {"actionId": "a1", "userId": "boto-put", "sessionId": "s1", "timestamp": 1700000009,
         "eventType": "Taken"}])

    # The Users schema replaced by one adding a nullable field, then one that drops a field.
    users_v2 = json.loads(fixture("users"))
    users_v2["fields"].append({"name": "CITY", "type": ["null", "string"]})
    v2 = p.create_schema(name="boto-users-v2", schema=json.dumps(users_v2))["schemaArn"]
    check(p.update_dataset(datasetArn=datasets["Users"], schemaArn=v2)["datasetArn"] == datasets["Users"],
          "update_dataset answer")
    d, _ = poll(lambda: {"dataset": p.describe_dataset(datasetArn=datasets["Users"])["dataset"]["latestDatasetUpdate"]},
                "dataset", {"ACTIVE", "CREATE FAILED"})
    check(d["status"] == "ACTIVE" and d["schemaArn"] == v2, f"update {d}")
    users_v3 = json.loads(fixture("users"))
    v3 = p.create_schema(name="boto-users-v3", schema=json.dumps(users_v3))["schemaArn"]
    p.update_dataset(datasetArn=datasets["Users"], schemaArn=v3)
    d, _ = poll(lambda: {"dataset": p.describe_dataset(datasetArn=datasets["Users"])["dataset"]["latestDatasetUpdate"]},
                "dataset", {"ACTIVE", "CREATE FAILED"})
    check(d["status"] == "CREATE FAILED" and "CITY" in d["failureReason"], f"failed update {d}")
    ev.put_users(datasetArn=datasets["Users"], users=[{"userId": "boto-city", "properties": json.dumps(
        {"membership": "free", "city": "Porto"})}])

    s3 = boto3.client("s3", endpoint_url=env["PERSONALIZE_LOCAL_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    s3.put_object(Bucket=bucket, Key="boto-put/forget.csv", Body=b"USER_ID\nboto-put\n")
    job = p.create_data_deletion_job(
        jobName="boto-put-job", datasetGroupArn=group, roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{bucket}/boto-put/forget.csv"})["dataDeletionJobArn"]
    j, _ = poll(lambda: p.describe_data_deletion_job(dataDeletionJobArn=job), "dataDeletionJob",
                {"COMPLETED", "FAILED"})
    # 2 events, 1 user and 1 action interaction.
    check(j["status"] == "COMPLETED" and j["numDeleted"] == 4, f"deletion of what was put {j}")
    p.delete_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])
    print("boto3 smoke: every events operation, UpdateDataset, their user deleted (numDeleted 4)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run(binary, sys.argv[2], tmp)
        except ClientError as e:
            fail(f"{e.operation_name}: {e.response['Error']}")
        except BotoCoreError as e:
            fail(str(e))
    print("boto3 smoke: passed")


if __name__ == "__main__":
    main()
