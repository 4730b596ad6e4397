"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server (`moto_server`, from
moto[server]), started as a subprocess on a free port. Commands reach it through boto3's usual environment
(AWS_ENDPOINT_URL and the key variables), exactly as they would reach MinIO or R2.

    with S3Server(log_path) as s3:
        s3.make_bucket("media")
        env = {**s3.env, "CS_OUT_DIR": "s3://media/run1"}
        s3.requests("PUT")  # the PUT requests the server has logged so far

With `auth=True` the server checks signatures against its own IAM (INITIAL_NO_AUTH_ACTION_COUNT=0), so any
key it never issued is refused as a real store refuses it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from loopback import free_port, port_open, wait_until


UNSET = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")  # a developer's own AWS set-up stays out


class S3Server:
    def __init__(self, log_path: Path, auth: bool = False):
        self.log_path = Path(log_path)
        self.auth = auth
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.env = {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                    "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def __enter__(self) -> "S3Server":
        moto = Path(sys.executable).with_name("moto_server")
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.auth:
            environment["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)], stdout=self._log,
                                        stderr=subprocess.STDOUT, env=environment)
        try:
            wait_until(lambda: port_open(self.port), 60, process=self.process, what="moto_server")
        except RuntimeError as exc:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{exc}; see {self.log_path}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for item in found.get("Contents", []))

    def _log_text(self) -> str:
        # werkzeug colours the lines of non-2xx answers even in a file
        return re.sub(r"\x1b\[[0-9;]*m", "", self.log_path.read_text(encoding="utf-8", errors="replace"))

    def requests(self, method: str) -> list[str]:
        """The paths of the METHOD requests the server has logged so far (werkzeug's access log)."""
        return [path for path, _ in self.request_statuses(method)]

    def request_statuses(self, method: str) -> list[tuple[str, int]]:
        """(path, HTTP status) of each METHOD request logged so far."""
        text = self._log_text()
        return [(path, int(status)) for path, status in re.findall(rf'"{method} (\S+) HTTP/[\d.]+" (\d+)', text)]
