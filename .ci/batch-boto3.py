#!/usr/bin/env python3
"""Batch jobs through boto3 on each S3 server given: for each, a fresh server whose S3 is
that one imports planted interactions, trains a user-personalization and an item-affinity
version, deletes one user with a data deletion job, then runs a batch inference job and a
batch segment job; their outputs in that S3 must have exactly the service's shapes, and the
segment of a version trained before the deletion must not name the deleted user (the same
checks as the smoke flow's, `smoke_serving.batch_flow`).

    python3 .ci/batch-boto3.py BINARY S3_ENDPOINT [S3_ENDPOINT ...]
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smoke_common import check, planted_csv, planted_group, poll  # noqa: E402
import smoke_serving  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"


def wait_for_url(server):
    import re
    for line in server.stdout:
        url = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
        if url:
            return url.group(1)
    return None


def one(binary, endpoint, tmp):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    bucket = f"batch-boto-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="planted/interactions.csv", Body=planted_csv().encode())
    s3.put_object(Bucket=bucket, Key="planted/forget-u4.csv", Body=b"USER_ID\nu4\n")
    env = dict(os.environ, PERSONALIZE_LOCAL_S3_ENDPOINT=endpoint, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    server = subprocess.Popen([binary, "--data-dir", os.path.join(tmp, "data"), "serve", "--port", "0",
                               "--transition-ms", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        url = wait_for_url(server)
        check(url is not None, f"the server for {endpoint} did not start")
        p = boto3.client("personalize", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="test")
        group = planted_group(p, bucket, "batch", ROLE)
        versions = {}
        for recipe in ("aws-user-personalization-v2", "aws-item-affinity"):
            sol = p.create_solution(name=recipe, datasetGroupArn=group,
                                    recipeArn=f"arn:aws:personalize:::recipe/{recipe}")["solutionArn"]
            poll(lambda: p.describe_solution(solutionArn=sol), "solution", {"ACTIVE"})
            ver = p.create_solution_version(solutionArn=sol)["solutionVersionArn"]
            v, _ = poll(lambda: p.describe_solution_version(solutionVersionArn=ver), "solutionVersion",
                        {"ACTIVE", "CREATE FAILED"}, seconds=60)
            check(v["status"] == "ACTIVE", f"{endpoint}: {recipe} {v}")
            versions[recipe] = ver
        job = p.create_data_deletion_job(jobName="forget-u4", datasetGroupArn=group, roleArn=ROLE,
                                         dataSource={"dataLocation": f"s3://{bucket}/planted/forget-u4.csv"})
        d, _ = poll(lambda: p.describe_data_deletion_job(dataDeletionJobArn=job["dataDeletionJobArn"]),
                    "dataDeletionJob", {"COMPLETED", "FAILED"}, seconds=60)
        check(d["status"] == "COMPLETED", f"{endpoint}: deletion {d}")
        smoke_serving.batch_flow(p, s3, bucket, versions)
    finally:
        server.kill()
        server.wait()


def main():
    binary, endpoints = sys.argv[1], sys.argv[2:]
    for endpoint in endpoints:
        with tempfile.TemporaryDirectory() as tmp:
            one(binary, endpoint, tmp)
        print(f"batch jobs through boto3 with S3 at {endpoint}: the service's shapes, no deleted user")


if __name__ == "__main__":
    main()
