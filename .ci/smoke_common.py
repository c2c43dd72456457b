"""What the boto3 smoke flows share: failing with a message, polling a status, expecting a
modeled error, and interactions with planted structure."""
import random
import sys
import time

from botocore.exceptions import ClientError


def fail(message):
    sys.exit(f"boto3 smoke: FAILED: {message}")


def check(condition, message):
    if not condition:
        fail(message)


def poll(call, key, done, seconds=30):
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        item = call()[key]
        if not seen or seen[-1] != item["status"]:
            seen.append(item["status"])
        if item["status"] in done:
            return item, seen
        time.sleep(0.05)
    fail(f"{key} still {seen[-1]} after {seconds}s (statuses seen: {seen})")


def expect_error(code, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{call.__name__}({kwargs}) raised {got}, expected {code}")
        return e
    fail(f"{call.__name__}({kwargs}) succeeded, expected {code}")


def planted_csv(users=600, items=120, groups=6, per_user=10, affinity=0.85):
    """Interactions with planted structure: user u prefers the items of group u % groups."""
    rng = random.Random(11)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    per_group = items // groups
    for u in range(users):
        for k in range(per_user):
            g = u % groups if rng.random() < affinity else rng.randrange(groups)
            within = int(rng.random() ** 2 * per_group)
            rows.append(f"u{u},i{within * groups + g},{1700000000 + u * per_user + k},click")
    return "\n".join(rows) + "\n"




def planted_group(p, bucket, name, role):
    """A dataset group `name` whose Interactions dataset (the fixtures' schema) is imported
    from `s3://bucket/planted/interactions.csv`; returns the group's ARN."""
    from pathlib import Path
    group = p.create_dataset_group(name=name)["datasetGroupArn"]
    poll(lambda: p.describe_dataset_group(datasetGroupArn=group), "datasetGroup", {"ACTIVE"})
    text = (Path(__file__).resolve().parent.parent / "fixtures" / "schemas" / "interactions.json").read_text()
    schema = p.create_schema(name=f"{name}-interactions", schema=text)["schemaArn"]
    dataset = p.create_dataset(name=f"{name}-interactions", schemaArn=schema, datasetGroupArn=group,
                               datasetType="Interactions")["datasetArn"]
    poll(lambda: p.describe_dataset(datasetArn=dataset), "dataset", {"ACTIVE"})
    imp = p.create_dataset_import_job(jobName=f"{name}-import", datasetArn=dataset, roleArn=role,
                                      dataSource={"dataLocation": f"s3://{bucket}/planted/interactions.csv"})
    j, _ = poll(lambda: p.describe_dataset_import_job(datasetImportJobArn=imp["datasetImportJobArn"]),
                "datasetImportJob", {"ACTIVE", "CREATE FAILED"}, seconds=60)
    check(j["status"] == "ACTIVE", f"planted import {j}")
    return group
