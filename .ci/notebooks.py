#!/usr/bin/env python3
"""Runs AWS's sample notebooks (amazon-personalize-samples) against personalize-local, S3,
SSM, STS and IAM on a moto server, to their last cell.

    python3 .ci/notebooks.py BINARY MOTO_ENDPOINT NOTEBOOK.ipynb [NOTEBOOK.ipynb ...]

The notebooks are not part of this repository: pass the ones of your clone of
github.com/aws-samples/amazon-personalize-samples, e.g.
`getting_started/notebooks/1.Building_Your_First_Campaign.ipynb` and
`getting_started/notebooks_managed_domains/Building_Your_First_Recommender_Ecommerce.ipynb`.

The moto server is reset first. What stands in for the cloud, and nothing else is changed in
the notebooks:
- `personalize` and `personalize-runtime` go to a `personalize-local serve` started here
  (`AWS_ENDPOINT_URL_PERSONALIZE*`); S3, SSM, STS and IAM to moto (`AWS_ENDPOINT_URL`);
- the data the notebooks download (MovieLens 100k, the Retail Demo Store's CSVs) cannot be
  downloaded here: files of the same names and columns, with planted structure, are put in
  the notebook's folder first (their `wget` then fails and changes nothing);
- what a SageMaker notebook instance or the samples' CloudFormation stack provides: the SSM
  parameters of the bucket and role, and `/opt/ml/metadata/resource-metadata.json` (created
  for the run when absent, removed after);
- one cell is run first that caps `time.sleep` at 0.2 s, so the notebooks' polling loops
  (which sleep 15 to 60 s between checks) do not wait, and lets IAM's AttachRolePolicy of an
  AWS managed policy that moto's catalogue lacks (AmazonPersonalizeFullAccess) succeed.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import boto3
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REGION = "us-east-1"
BUCKET = "personalize-local-notebooks"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
METADATA = Path("/opt/ml/metadata/resource-metadata.json")


PREAMBLE = """
import time as _t
_sleep = _t.sleep
_t.sleep = lambda s: _sleep(min(s, 0.2))

import boto3 as _b3
_client = _b3.client
def _with_managed_policies(*args, **kwargs):
    c = _client(*args, **kwargs)
    if (args[0] if args else kwargs.get("service_name")) == "iam":
        attach = c.attach_role_policy
        def attach_role_policy(**kw):
            try:
                return attach(**kw)
            except c.exceptions.NoSuchEntityException:
                if kw.get("PolicyArn", "").startswith("arn:aws:iam::aws:policy/"):
                    return {}
                raise
        c.attach_role_policy = attach_role_policy
    return c
_b3.client = _with_managed_policies
"""


def movielens(folder: Path):
    """ml-100k/u.data and u.item (and the zip the notebook unzips): 943 users, 1682 movies,
    100,000 ratings; users prefer one of 19 genres' movies."""
    rng = random.Random(100)
    rows = []
    for u in range(1, 944):
        g = u % 19
        for k in range(106):
            own = rng.random() < 0.8
            movie = (rng.randrange(88) * 19 + (g if own else rng.randrange(19))) % 1682 + 1
            rating = rng.choice([4, 5, 5, 3]) if own else rng.choice([1, 2, 3, 4])
            rows.append(f"{u}\t{movie}\t{rating}\t{881250949 + u * 200 + k}")
    ml = folder / "ml-100k"
    ml.mkdir(exist_ok=True)
    (ml / "u.data").write_text("\n".join(rows[:100000]) + "\n")
    titles = [f"{m}|Movie {m} ({1950 + m % 50})|01-Jan-{1950 + m % 50}||http://example.invalid/{m}|0|0|0"
              for m in range(1, 1683)]
    (ml / "u.item").write_bytes(("\n".join(titles) + "\n").encode("latin-1"))
    with zipfile.ZipFile(folder / "ml-100k.zip", "w") as z:
        for f in ("u.data", "u.item"):
            z.write(ml / f, f"ml-100k/{f}")


def retail(folder: Path):
    """interactions.csv (USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, DISCOUNT) and items.csv of
    the Retail Demo Store's shape: 2,000 items of 20 categories, 1,500 users (user 777
    among them) who view, add to cart and buy within their category."""
    rng = random.Random(7)
    items = [f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
             f"8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}" for _ in range(2000)]
    items[0] = "c72257d4-430b-4eb7-9de3-28396e593381"
    items[1] = "8fbe091c-f73c-4727-8fe7-d27eabd17bea"
    lines = ["ITEM_ID,PRICE,CATEGORY_L1,CATEGORY_L2,PRODUCT_DESCRIPTION,GENDER,PROMOTED"]
    for i, item in enumerate(items):
        lines.append(f"{item},{10 + i % 90}.99,category{i % 20},sub{i % 7},Product {i} of category {i % 20},M,N")
    (folder / "items.csv").write_text("\n".join(lines) + "\n")
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,DISCOUNT"]
    for u in range(1, 1501):
        c = u % 20
        for k in range(30):
            i = (rng.randrange(100) * 20 + (c if rng.random() < 0.8 else rng.randrange(20))) % 2000
            t = 1591803000 + u * 100 + k
            rows.append(f"{u},{items[i]},{t},View,No")
            if k % 5 == 0:
                rows.append(f"{u},{items[i]},{t},AddToCart,No")
            if k % 10 == 0:
                rows.append(f"{u},{items[i]},{t},Purchase,Yes")
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")


def run(notebook: Path, folder: Path, env: dict):
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PREAMBLE))
    old = dict(os.environ)
    os.environ.update(env)
    try:
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}})
        client.execute()
    except CellExecutionError as e:
        sys.exit(f"notebooks: FAILED in {notebook.name}: {str(e)[-3000:]}")
    finally:
        os.environ.clear()
        os.environ.update(old)
    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    for c in code:
        if "get_recommendations(" in c.source:
            shown = [o.get("data", {}).get("text/plain", "") or o.get("text", "") for o in c.outputs]
            print(f"notebooks: {notebook.name}: a recommendation cell printed:\n{''.join(shown)[:600]}")
    last = "".join(o.get("text", "") or json.dumps(o.get("data", {}).get("text/plain", ""))
                   for o in code[-1].outputs)
    print(f"notebooks: {notebook.name}: all {len(code)} code cells ran; the last printed {last.strip()[:200]!r}")
    return nb


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, moto = os.path.abspath(sys.argv[1]), sys.argv[2]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_ENDPOINT_URL=moto,
               PERSONALIZE_LOCAL_S3_ENDPOINT=moto)
    # A fresh moto: the notebooks create fixed names (a role, a bucket).
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=30)
    boto = dict(region_name=REGION, endpoint_url=moto, aws_access_key_id="test", aws_secret_access_key="test")
    boto3.client("s3", **boto).create_bucket(Bucket=BUCKET)
    ssm = boto3.client("ssm", **boto)
    ssm.put_parameter(Name="/cloudformation/personalize-s3-bucket", Value=BUCKET, Type="String", Overwrite=True)
    ssm.put_parameter(Name="/cloudformation/personalize-iam-role-arn", Value=ROLE, Type="String", Overwrite=True)
    made_metadata = not METADATA.exists()
    if made_metadata:
        METADATA.parent.mkdir(parents=True, exist_ok=True)
        METADATA.write_text(json.dumps(
            {"ResourceArn": f"arn:aws:sagemaker:{REGION}:123456789012:notebook-instance/personalize-local"}))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = subprocess.Popen([binary, "--data-dir", str(tmp / "data"), "serve", "--port", "0",
                                   "--transition-ms", "0"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            url = None
            for line in server.stdout:
                if "listening on" in line:
                    url = line.split("listening on ")[1].split()[0]
                    break
            if url is None:
                sys.exit("notebooks: the server did not start")
            env.update(AWS_ENDPOINT_URL_PERSONALIZE=url, AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME=url)
            for path in sys.argv[3:]:
                folder = tmp / Path(path).stem
                folder.mkdir()
                movielens(folder)
                retail(folder)
                run(Path(path), folder, env)
        finally:
            server.kill()
            server.wait()
            if made_metadata:
                METADATA.unlink(missing_ok=True)
    print("notebooks: passed")


if __name__ == "__main__":
    main()
