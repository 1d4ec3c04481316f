"""Shared fixtures: a real S3 server (SeaweedFS), storage on both backends, credentials in env;
and the `slow` mark of every test that starts Ray, builds a lab or runs the demo."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.s3server import WeedS3

# The fixtures that make a test slow, by what they do. A test using one, directly or through
# another fixture, is marked `slow`, so `python -m pytest -m "not slow"` is the fast loop
# (README). Tests that start Ray without such a fixture (a `memx run` subprocess) carry a
# module-level `pytestmark = pytest.mark.slow` instead.
SLOW_FIXTURES = {
    "tiny_lab": "builds the tiny lab (tests/lab)",
    "micro_settings": "rebuilds a micro lab (tests/lab)",
    "local_ray": "starts Ray in this process (tests/cluster)",
    "two_node_cluster": "starts a two-node Ray cluster (tests/cluster/test_faults.py)",
    "gpu_cluster": "starts a Ray cluster with fake GPUs (tests/cluster/test_placement.py)",
    "ray_head": "starts a Ray head with the Jobs API (tests/cluster/test_submit.py)",
    "demo_run": "runs `memx demo` (tests/e2e/test_demo.py)",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = WeedS3(tmp_path_factory.mktemp("weed") / "data").start()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)  # the AWS chain is how memx gets credentials, in tests too
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(params=["local", "s3"])
def storage_root(request, tmp_path):
    """(root uri, endpoint_url) for a fresh run root on each backend."""
    if request.param == "local":
        return str(tmp_path / "out"), None
    server = request.getfixturevalue("s3_server")
    return f"s3://{server.bucket}/t-{uuid.uuid4().hex[:10]}", server.endpoint
