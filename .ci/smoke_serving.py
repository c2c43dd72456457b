"""The boto3 smoke flow of serving: every operation of the three models answered; campaigns on the planted group's versions answered by the
real `personalize-runtime` client (the user's own group far above chance, a ranked list, a
filter and a parameterised one, a user deleted and answered as a stranger), a batch inference
job and a batch segment job (the deleted user in no segment), and recommenders on an
ECOMMERCE group answering by use case."""
import boto3
from botocore.config import Config

from smoke_common import check, expect_error, planted_csv, poll

ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"


def group_of(item_or_user):
    return int(item_or_user[1:]) % 6


def campaign(p, name, version, **kwargs):
    arn = p.create_campaign(name=name, solutionVersionArn=version, **kwargs)["campaignArn"]
    poll(lambda: p.describe_campaign(campaignArn=arn), "campaign", {"ACTIVE"})
    return arn


def filter_(p, group, name, expression):
    arn = p.create_filter(name=name, datasetGroupArn=group, filterExpression=expression)["filterArn"]
    poll(lambda: p.describe_filter(filterArn=arn), "filter", {"ACTIVE"})
    return arn


def items(answer, member="itemList"):
    return [i["itemId"] for i in answer[member]]


def every_operation_flow(url, region):
    """Every operation of the personalize, personalize-runtime and personalize-events models,
    called through boto3 with an empty request (client-side validation off): each is answered
    by this server, with a result or a modeled error, never UnknownOperationException."""
    import botocore.config
    from botocore.exceptions import ClientError
    config = botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1})
    total = 0
    for service in ("personalize", "personalize-runtime", "personalize-events"):
        client = boto3.client(service, endpoint_url=url, region_name=region, config=config,
                              aws_access_key_id="test", aws_secret_access_key="test")
        methods = {api: name for name, api in client.meta.method_to_api_mapping.items()}
        for op in client.meta.service_model.operation_names:
            method = getattr(client, methods[op])
            try:
                method()
            except ClientError as e:
                code = e.response["Error"]["Code"]
                check(code != "UnknownOperationException" and e.response["ResponseMetadata"]["HTTPStatusCode"] < 500,
                      f"{service} {op}: {code} {e.response['Error'].get('Message')}")
            total += 1
    print(f"boto3 smoke: all {total} operations of the three models are answered")


def flow(p, env, url, bucket, group, versions, cli):
    region = p.meta.region_name
    every_operation_flow(url, region)
    r = boto3.client("personalize-runtime", endpoint_url=url, region_name=region,
                     aws_access_key_id="test", aws_secret_access_key="test")
    up = campaign(p, "boto-up", versions["aws-user-personalization-v2"])
    pop = campaign(p, "boto-pop", versions["aws-popularity-count"])
    check([c["campaignArn"] for c in p.list_campaigns()["campaigns"]] == [up, pop], "ListCampaigns")

    # The user's own group, far more often than chance (1 in 6).
    own = total = 0
    for u in range(0, 600, 7):
        got = items(r.get_recommendations(campaignArn=up, userId=f"u{u}", numResults=10))
        check(len(got) == 10, f"u{u}: {got}")
        own += sum(group_of(i) == u % 6 for i in got)
        total += len(got)
    check(own / total > 0.45, f"own-group share {own / total}")

    # A ranked list: the user's group first.
    ranking = campaign(p, "boto-rank", versions["aws-personalized-ranking-v2"])
    listed = ["i1", "i2", "i0", "i6", "i3", "i12", "unknown"]
    ranked = items(r.get_personalized_ranking(campaignArn=ranking, userId="u0", inputList=listed),
                   "personalizedRanking")
    check(sorted(ranked) == sorted(listed) and ranked[-1] == "unknown"
          and all(group_of(i) == 0 for i in ranked[:3]), f"ranked {ranked}")

    # Filters: what the user clicked excluded; with a parameter, only that.
    unclicked = filter_(p, group, "boto-unclicked", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")')
    only = filter_(p, group, "boto-only", "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($TYPE)")
    mine = {row.split(",")[1] for row in planted_csv().splitlines()[1:] if row.startswith("u5,")}
    plain = items(r.get_recommendations(campaignArn=pop, userId="u5", numResults=10))
    check(set(plain) & mine, f"popular items for u5 include some of theirs: {plain}")
    left = items(r.get_recommendations(campaignArn=pop, userId="u5", numResults=10, filterArn=unclicked))
    check(len(left) == 10 and not set(left) & mine, f"unclicked {left}")
    kept = items(r.get_recommendations(campaignArn=pop, userId="u5", numResults=10, filterArn=only,
                                       filterValues={"TYPE": '"click"'}))
    check(kept and set(kept) <= mine, f"only clicked {kept}")
    expect_error("InvalidInputException", r.get_recommendations, campaignArn=pop, userId="u5", filterArn=only)
    e = expect_error("InvalidInputException", p.create_filter, name="boto-bad", datasetGroupArn=group,
                     filterExpression="INCLUDE ItemID WHERE Items.NOPE IN (\"x\")")
    check("position" in e.response["Error"]["Message"], f"bad filter message {e.response['Error']}")
    check(len(p.list_filters(datasetGroupArn=group)["Filters"]) == 2, "ListFilters")

    # A user deleted by a data deletion job is answered as a stranger, by the same model.
    s3 = boto3.client("s3", endpoint_url=env["PERSONALIZE_LOCAL_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "path"}))
    s3.put_object(Bucket=bucket, Key="planted/forget-u4.csv", Body=b"USER_ID\nu4\n")
    before = items(r.get_recommendations(campaignArn=up, userId="u4"))
    stranger = items(r.get_recommendations(campaignArn=up, userId="nobody"))
    check(before != stranger, "u4 has a history")
    job = p.create_data_deletion_job(jobName="boto-forget-u4", datasetGroupArn=group, roleArn=ROLE,
                                     dataSource={"dataLocation": f"s3://{bucket}/planted/forget-u4.csv"})
    j, _ = poll(lambda: p.describe_data_deletion_job(dataDeletionJobArn=job["dataDeletionJobArn"]),
                "dataDeletionJob", {"COMPLETED", "FAILED"}, seconds=60)
    check(j["status"] == "COMPLETED", f"deletion {j}")
    after = items(r.get_recommendations(campaignArn=up, userId="u4"))
    check(after == stranger, f"u4 after the deletion: {after}")
    print(f"boto3 smoke: campaigns answer from the records (own-group share {own / total:.2f}), rank, filter; "
          "a deleted user is a stranger")
    verify_flow(p, env, cli, bucket, group, {up: versions["aws-user-personalization-v2"],
                                            pop: versions["aws-popularity-count"],
                                            ranking: versions["aws-personalized-ranking-v2"]})
    batch_flow(p, s3, bucket, versions)
    recommenders_flow(p, r, s3, bucket)


def verify_flow(p, env, cli, bucket, group, campaigns):
    """`verify` after the deletion: the campaigns still serving versions trained before it are
    named (exit 1) until each is updated to a version trained after it, which never saw u4."""
    import json
    import subprocess
    binary, data_dir = cli
    name = p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["name"]
    command = [binary, "--data-dir", data_dir, "--region", p.meta.region_name, "verify", "--dataset-group", name,
               "--data-location", f"s3://{bucket}/planted/forget-u4.csv"]

    def verify():
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        return done.returncode, json.loads(done.stdout)

    code, report = verify()
    named = {d["arn"] for d in report["models"]["deployed"]}
    check(code == 1 and named == set(campaigns) and report["remaining"]["Interactions"]["users"] == 0,
          f"verify before retraining: exit {code}, {report['models']}")
    for campaign, old in campaigns.items():
        solution = p.describe_solution_version(solutionVersionArn=old)["solutionVersion"]["solutionArn"]
        new = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        v, _ = poll(lambda: p.describe_solution_version(solutionVersionArn=new), "solutionVersion",
                    {"ACTIVE", "CREATE FAILED"}, seconds=60)
        check(v["status"] == "ACTIVE", f"retrained {v}")
        p.update_campaign(campaignArn=campaign, solutionVersionArn=new)
        update = lambda: {"u": p.describe_campaign(campaignArn=campaign)["campaign"]["latestCampaignUpdate"]}
        poll(update, "u", {"ACTIVE"})
        served = p.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"]
        check(served == new, f"{campaign} serves {served} after its update to {new}")
    code, report = verify()
    check(code == 0 and report["verified"] and not report["models"]["deployed"],
          f"verify after retraining: exit {code}, {report['models']}")
    print(f"boto3 smoke: verify named the {len(campaigns)} campaigns serving versions trained before the "
          "deletion, and passed once each served a version trained after it")


def batch_job(p, kind, name, version, bucket, src, dst):
    create = p.create_batch_inference_job if kind == "inference" else p.create_batch_segment_job
    describe = p.describe_batch_inference_job if kind == "inference" else p.describe_batch_segment_job
    member, key = ("batchInferenceJobArn", "batchInferenceJob") if kind == "inference" else \
        ("batchSegmentJobArn", "batchSegmentJob")
    arn = create(jobName=name, solutionVersionArn=version, roleArn=ROLE, numResults=10,
                 jobInput={"s3DataSource": {"path": f"s3://{bucket}/{src}"}},
                 jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/{dst}"}})[member]
    j, seen = poll(lambda: describe(**{member: arn}), key, {"ACTIVE", "CREATE FAILED"}, seconds=60)
    check(j["status"] == "ACTIVE", f"{name}: {j}")
    return j


def batch_flow(p, s3, bucket, versions):
    """A batch inference job and a batch segment job write the service's shapes to S3; the
    segment of a version trained before a deletion holds none of the deleted users (u4 was
    deleted above)."""
    import json
    s3.put_object(Bucket=bucket, Key="batch/in/users.json", Body=b'{"userId": "u1"}\n{"userId": "u4"}\nnot json\n')
    batch_job(p, "inference", "boto-batch", versions["aws-user-personalization-v2"], bucket, "batch/in/", "batch/out/")
    out = [json.loads(l) for l in s3.get_object(Bucket=bucket, Key="batch/out/users.json.out")["Body"].read().splitlines()]
    check(len(out) == 3 and out[0]["input"] == {"userId": "u1"} and out[0]["error"] is None
          and len(out[0]["output"]["recommendedItems"]) == 10 and len(out[0]["output"]["scores"]) == 10
          and "error" in out[2] and out[2]["error"], f"batch inference output {out}")
    s3.put_object(Bucket=bucket, Key="batch/seg.json", Body=b'{"itemId": "i4"}\n')
    batch_job(p, "segment", "boto-segment", versions["aws-item-affinity"], bucket, "batch/seg.json", "batch/seg-out/")
    seg = [json.loads(l) for l in s3.get_object(Bucket=bucket, Key="batch/seg-out/seg.json.out")["Body"].read().splitlines()]
    users = seg[0]["output"]["recommendedUsers"]
    check(seg[0]["input"] == {"itemId": "i4"} and len(users) == 10 and "u4" not in users
          and sum(group_of(u) == 4 for u in users) >= 7, f"segment {seg}")
    check(len(p.list_batch_segment_jobs(solutionVersionArn=versions["aws-item-affinity"])["batchSegmentJobs"]) == 1,
          "ListBatchSegmentJobs")
    print(f"boto3 smoke: a batch inference job and a batch segment job wrote the service's shapes; "
          f"the segment of i4 has no deleted user: {users[:5]}...")


def recommenders_flow(p, r, s3, bucket):
    group = p.create_dataset_group(name="boto-shop", domain="ECOMMERCE")["datasetGroupArn"]
    poll(lambda: p.describe_dataset_group(datasetGroupArn=group), "datasetGroup", {"ACTIVE"})
    schema = p.create_schema(name="boto-shop", domain="ECOMMERCE", schema=(
        '{"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", '
        '"fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, '
        '{"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"}], "version": "1.0"}'))
    ds = p.create_dataset(name="boto-shop", schemaArn=schema["schemaArn"], datasetGroupArn=group,
                          datasetType="Interactions")["datasetArn"]
    poll(lambda: p.describe_dataset(datasetArn=ds), "dataset", {"ACTIVE"})
    s3.put_object(Bucket=bucket, Key="shop/interactions.csv", Body=planted_csv().replace(",click", ",View").encode())
    imp = p.create_dataset_import_job(jobName="boto-shop", datasetArn=ds, roleArn=ROLE,
                                      dataSource={"dataLocation": f"s3://{bucket}/shop/interactions.csv"})
    j, _ = poll(lambda: p.describe_dataset_import_job(datasetImportJobArn=imp["datasetImportJobArn"]),
                "datasetImportJob", {"ACTIVE", "CREATE FAILED"}, seconds=60)
    check(j["status"] == "ACTIVE", f"shop import {j}")
    made = {}
    for use_case in ("aws-ecomm-recommended-for-you", "aws-ecomm-customers-who-viewed-x-also-viewed",
                     "aws-ecomm-popular-items-by-views"):
        arn = p.create_recommender(name=f"boto-{use_case[9:]}", datasetGroupArn=group,
                                   recipeArn=f"arn:aws:personalize:::recipe/{use_case}")["recommenderArn"]
        d, _ = poll(lambda: p.describe_recommender(recommenderArn=arn), "recommender",
                    {"ACTIVE", "CREATE FAILED"}, seconds=60)
        check(d["status"] == "ACTIVE" and "coverage" in d["modelMetrics"], f"{use_case}: {d}")
        made[use_case] = arn
    for_you = items(r.get_recommendations(recommenderArn=made["aws-ecomm-recommended-for-you"], userId="u2",
                                          numResults=10))
    check(sum(group_of(i) == 2 for i in for_you) >= 5, f"recommended for u2: {for_you}")
    also = items(r.get_recommendations(recommenderArn=made["aws-ecomm-customers-who-viewed-x-also-viewed"],
                                       itemId="i8", numResults=5))
    check(sum(group_of(i) == 2 for i in also) >= 3, f"also viewed with i8: {also}")
    top = items(r.get_recommendations(recommenderArn=made["aws-ecomm-popular-items-by-views"], numResults=3))
    check(len(top) == 3, f"most viewed {top}")
    p.stop_recommender(recommenderArn=made["aws-ecomm-popular-items-by-views"])
    poll(lambda: p.describe_recommender(recommenderArn=made["aws-ecomm-popular-items-by-views"]), "recommender",
         {"INACTIVE"})
    expect_error("InvalidInputException", r.get_recommendations,
                 recommenderArn=made["aws-ecomm-popular-items-by-views"])
    check(len(p.list_recommenders(datasetGroupArn=group)["recommenders"]) == 3, "ListRecommenders")
    print("boto3 smoke: 3 ECOMMERCE recommenders trained and answered by use case; a stopped one answers no more")
