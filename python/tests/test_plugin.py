"""The pytest fixture and the context manager, driving boto3 as a user's tests would: a
group, an import from S3 (on the server's own endpoint), a data deletion job, the records
read back through an export job."""
import csv
import io
import socket
import time

import boto3
import pytest

import personalize_local

ROLE = "arn:aws:iam::000000000000:role/personalize-local"
USERS_SCHEMA = """{"type": "record", "name": "Users", "namespace": "com.amazonaws.personalize.schema",
  "fields": [{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": ["int", "null"]}],
  "version": "1.0"}"""


def wait(call, key, done, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        item = call()[key]
        if item["status"] in done:
            return item
        assert time.monotonic() < deadline, f"{key} still {item['status']}"
        time.sleep(0.05)


def test_five_lines(personalize_local):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="gdpr")
    s3.put_object(Bucket="gdpr", Key="forget.csv", Body=b"USER_ID\nu1\n")
    group = boto3.client("personalize").create_dataset_group(name="g")["datasetGroupArn"]
    assert personalize_local.run_data_deletion_job(group, "s3://gdpr/forget.csv")["status"] == "COMPLETED"


def test_import_delete_and_read_back(personalize_local):
    s3, p = boto3.client("s3"), boto3.client("personalize")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="users.csv", Body=b"USER_ID,AGE\nu1,20\nu2,30\nu3,40\n")
    s3.put_object(Bucket="data", Key="forget/2026/12/04.csv", Body=b"USER_ID\nu1\nu3\n")
    group = p.create_dataset_group(name="shop")["datasetGroupArn"]
    schema = p.create_schema(name="users", schema=USERS_SCHEMA)["schemaArn"]
    dataset = p.create_dataset(name="users", datasetGroupArn=group, datasetType="Users",
                               schemaArn=schema)["datasetArn"]
    imp = p.create_dataset_import_job(jobName="users", datasetArn=dataset, roleArn=ROLE,
                                      dataSource={"dataLocation": "s3://data/users.csv"})
    job = wait(lambda: p.describe_dataset_import_job(datasetImportJobArn=imp["datasetImportJobArn"]),
               "datasetImportJob", {"ACTIVE", "CREATE FAILED"})
    assert job["status"] == "ACTIVE", job

    deleted = personalize_local.run_data_deletion_job(group, "s3://data/forget/")
    assert deleted["status"] == "COMPLETED" and deleted["numDeleted"] == 2, deleted

    exp = p.create_dataset_export_job(jobName="users", datasetArn=dataset, roleArn=ROLE,
                                      jobOutput={"s3DataDestination": {"path": "s3://data/export/"}})
    job = wait(lambda: p.describe_dataset_export_job(datasetExportJobArn=exp["datasetExportJobArn"]),
               "datasetExportJob", {"ACTIVE", "CREATE FAILED"})
    assert job["status"] == "ACTIVE", job
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="export/")["Contents"]]
    rows = []
    for key in keys:
        text = s3.get_object(Bucket="data", Key=key)["Body"].read().decode()
        rows += [r for r in csv.reader(io.StringIO(text)) if r and r[0] != "USER_ID"]
    assert rows == [["u2", "30"]]


def test_each_test_sees_an_empty_server(personalize_local):
    p = boto3.client("personalize")
    assert p.list_dataset_groups()["datasetGroups"] == []
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    p.create_dataset_group(name="left-behind")


def test_each_test_sees_an_empty_server_again(personalize_local):
    assert boto3.client("personalize").list_dataset_groups()["datasetGroups"] == []


def test_a_bad_deletion_file_fails_the_job_naming_object_and_line(personalize_local):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="gdpr")
    s3.put_object(Bucket="gdpr", Key="forget.csv", Body=b"USER_ID\nu1,extra\n")
    group = boto3.client("personalize").create_dataset_group(name="g")["datasetGroupArn"]
    job = personalize_local.run_data_deletion_job(group, "s3://gdpr/forget.csv")
    assert job["status"] == "FAILED"
    assert "s3://gdpr/forget.csv" in job["failureReason"] and "line 2" in job["failureReason"], job


def test_the_context_manager_stops_the_server_by_pid():
    with personalize_local.serve(s3=False) as server:
        assert server.s3_dir is None
        assert server.client("personalize").list_recipes()["recipes"]
        port = int(server.endpoint_url.rsplit(":", 1)[1])
        pid = server.pid
    assert server.process.poll() is not None, f"pid {pid} still running"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
