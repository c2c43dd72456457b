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


