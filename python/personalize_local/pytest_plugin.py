"""The pytest plugin (registered through the ``pytest11`` entry point): the
``personalize_local`` fixture.

Each test that asks for it gets its own ``personalize-local serve`` on a free loopback port,
with an empty store and S3 on the same endpoint, and the ``AWS_ENDPOINT_URL_*`` variables,
credentials and region set for the test, so ``boto3.client("personalize")`` and
``boto3.client("s3")`` reach it with no arguments. The server is stopped by PID after the test.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from personalize_local import Server, serve


@pytest.fixture
def personalize_local(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A fresh personalize-local server for one test (see the module)."""
    with serve() as server:
        for name, value in server.environ().items():
            monkeypatch.setenv(name, value)
        # A profile or endpoint of the user's own must not send the test elsewhere.
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield server
