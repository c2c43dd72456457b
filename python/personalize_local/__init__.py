"""personalize-local from Python: start the server (the ``personalize-local`` binary this
wheel installs) on a free loopback port with a fresh store, S3 answered on the same endpoint,
and stop it by PID.

    with personalize_local.serve() as server:
        boto3.client("personalize", endpoint_url=server.endpoint_url, ...)

pytest users get the ``personalize_local`` fixture (see :mod:`personalize_local.pytest_plugin`).
"""
from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

__all__ = ["Server", "serve", "binary", "ServerError"]

#: The credentials the server's S3 accepts, and the region of its ARNs.
ACCESS_KEY = "test"
SECRET_KEY = "test"
REGION = "us-east-1"


class ServerError(RuntimeError):
    """The server could not be started."""


def binary() -> str:
    """The ``personalize-local`` executable: ``$PERSONALIZE_LOCAL_BINARY``, else the one this
    wheel installed beside the interpreter, else the first on the PATH."""
    explicit = os.environ.get("PERSONALIZE_LOCAL_BINARY")
    if explicit:
        return explicit
    scripts = Path(sysconfig.get_path("scripts")) / "personalize-local"
    if scripts.is_file():
        return str(scripts)
    found = shutil.which("personalize-local")
    if found is None:
        raise ServerError("no personalize-local executable: install the wheel, or set PERSONALIZE_LOCAL_BINARY")
    return found


@dataclass
class Server:
    """A running ``personalize-local serve``."""

    #: ``http://127.0.0.1:PORT``: Personalize, Personalize Runtime, Personalize Events, and S3.
    endpoint_url: str
    #: The folder S3 is served from (each top-level folder a bucket); ``None`` without S3.
    s3_dir: Optional[Path]
    #: The server's store.
    data_dir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def environ(self) -> Dict[str, str]:
        """The environment variables that point every AWS SDK client at this server (S3 too,
        when served), with its credentials and region."""
        env = {
            "AWS_ENDPOINT_URL_PERSONALIZE": self.endpoint_url,
            "AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME": self.endpoint_url,
            "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        if self.s3_dir is not None:
            env["AWS_ENDPOINT_URL_S3"] = self.endpoint_url
        return env

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of ``service`` for this server (boto3 must be installed)."""
        import boto3

        options: Dict[str, Any] = dict(endpoint_url=self.endpoint_url, region_name=REGION,
                                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        options.update(kwargs)
        return boto3.client(service, **options)

    def run_data_deletion_job(self, dataset_group_arn: str, data_location: str, *,
                              job_name: Optional[str] = None, timeout: float = 60.0) -> Dict[str, Any]:
        """Creates a data deletion job and waits for its end: the DescribeDataDeletionJob
        ``dataDeletionJob`` (``status`` COMPLETED or FAILED, ``numDeleted``,
        ``failureReason``)."""
        p = self.client("personalize")
        name = job_name or f"delete-{int(time.time() * 1000)}"
        arn = p.create_data_deletion_job(
            jobName=name, datasetGroupArn=dataset_group_arn,
            roleArn="arn:aws:iam::000000000000:role/personalize-local",
            dataSource={"dataLocation": data_location})["dataDeletionJobArn"]
        deadline = time.monotonic() + timeout
        while True:
            job = p.describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]
            if job["status"] in ("COMPLETED", "FAILED"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"the data deletion job {name} is still {job['status']}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the server by PID: SIGTERM, then SIGKILL if it has not exited."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def serve(*, s3: bool = True, data_dir: Optional[os.PathLike] = None,
          args: tuple = (), startup_timeout: float = 30.0) -> Iterator[Server]:
    """Starts ``personalize-local serve`` on a free loopback port and stops it on exit.

    ``s3``: also answer S3 on the same endpoint, from a fresh folder (``--s3-dir``).
    ``data_dir``: the store's folder (default: a fresh temporary one, so the server is empty).
    ``args``: more arguments for ``serve``.
    """
    with tempfile.TemporaryDirectory(prefix="personalize-local-") as tmp:
        store = Path(data_dir) if data_dir is not None else Path(tmp) / "data"
        s3_dir = Path(tmp) / "s3" if s3 else None
        command = [binary(), "--data-dir", str(store), "serve", "--host", "127.0.0.1", "--port", "0",
                   "--transition-ms", "0", *args]
        if s3_dir is not None:
            command += ["--s3-dir", str(s3_dir)]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_REGION=REGION)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, env=env, text=True)
        server = Server(_listening(process, startup_timeout), s3_dir, store, process)
        try:
            yield server
        finally:
            server.stop()


def _listening(process: subprocess.Popen, timeout: float) -> str:
    """The URL the server prints once it listens."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and sel.select(max(0.0, deadline - time.monotonic())):
            line = process.stdout.readline()
            if not line:
                break
            found = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
            if found:
                return found.group(1)
    process.kill()
    process.wait()
    raise ServerError(f"personalize-local did not start listening (exit status {process.returncode})")
