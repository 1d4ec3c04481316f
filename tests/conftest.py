"""Shared fixtures: a real S3 server (SeaweedFS), storage on both backends, credentials in env;
and the `slow` mark of every test that starts Ray, builds a lab or runs the demo."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.ray_head import stop_shared
from tests.support.s3server import WeedS3

# The fixtures that make a test slow, by what they do. A test using one, directly or through
# another fixture, is marked `slow`, so `python -m pytest -m "not slow"` is the fast loop
# (README). Tests that start Ray without such a fixture (a `memx run` subprocess) carry a
# module-level `pytestmark = pytest.mark.slow` instead.
SLOW_FIXTURES = {
    "tiny_lab": "builds the tiny lab once into $MEMX_CACHE (this file)",
    "micro_settings": "rebuilds a micro lab (tests/lab)",
    "local_ray": "starts Ray in this process (tests/cluster)",
    "two_node_cluster": "starts a two-node Ray cluster (tests/cluster/test_faults.py)",
    "gpu_cluster": "starts a Ray cluster with fake GPUs (tests/cluster/test_placement.py)",
    "ray_head": "starts a Ray head with the Jobs API (tests/cluster/test_submit.py)",
    "demo_run": "runs `memx demo` (tests/e2e/test_demo.py)",
}


# The longest test files, longest first (seconds of one fresh-clone run on the 2-core reference
# machine, docs/benchmarks.md#suite). The two xdist workers take whole files in collection order
# (`--dist loadfile --no-loadscope-reorder`), so the long ones start at once and the many
# short ones fill the end, instead of the end being one worker alone on a two-minute file.
# The demo comes first because it trains the tiny lab that most of the others then reuse.
LONGEST_FIRST = (
    "tests/e2e/test_demo.py",            # ~130 s, +90 s if it trains the lab
    "tests/cluster/test_faults.py",      # ~200 s
    "tests/cluster/test_location.py",    # ~120 s
    "tests/cluster/test_extraction_run.py",
    "tests/chat/test_chat_run.py",
    "tests/cluster/test_prefix_run.py",
    "tests/verify/test_token_index_run.py",
    "tests/extraction/test_agreement.py",
    "tests/cluster/test_placement.py",
    "tests/cluster/test_faults_membership.py",
    "tests/cluster/test_submit.py",
    "tests/membership/test_stage.py",
    "tests/e2e/test_minimal_run.py",
    "tests/cluster/test_generate_job.py",
    "tests/lab/test_build.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}

    def order(item) -> int:  # then the other slow files, then the fast ones; stable within a file
        path = item.nodeid.split("::")[0]
        return rank.get(path, len(rank) + (0 if item.get_closest_marker("slow") else 1))

    items.sort(key=order)


@pytest.fixture(scope="session")
def tiny_lab():
    """The tiny lab in $MEMX_CACHE, built there on first use: the one trained lab of the session.
    Every test that reads a lab takes this one, and `memx demo --preset tiny` (tests/e2e) finds
    the same cache entry, so a fresh checkout trains it once. Tests never write into it
    (a test that must damage or rebuild a lab copies it or builds a micro one)."""
    from memx.lab import build_lab

    return build_lab(None, preset="tiny", seed=0, progress=False)


@pytest.fixture(scope="session", autouse=True)
def _shared_ray_stopped():
    """The worker's shared Ray head (tests/support/ray_head.py), if a run started it, stops with the session."""
    yield
    stop_shared()


_SERVERS: list[WeedS3] = []  # the session's S3 server once a test has asked for it


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = WeedS3(tmp_path_factory.mktemp("weed") / "data").start()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)  # the AWS chain is how memx gets credentials, in tests too
    _SERVERS.append(server)
    try:
        yield server
    finally:
        _SERVERS.remove(server)
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def _s3_credentials_each_test():
    """The server's credentials back in the environment before every test: a test that first
    starts the server while it has monkeypatched AWS_* (to fake ones) would otherwise have them
    removed at its end, and every later S3 test of the session would send no or other keys."""
    for server in _SERVERS:
        os.environ.update(server.env)
    yield


@pytest.fixture(params=["local", "s3"])
def storage_root(request, tmp_path):
    """(root uri, endpoint_url) for a fresh run root on each backend."""
    if request.param == "local":
        return str(tmp_path / "out"), None
    server = request.getfixturevalue("s3_server")
    return f"s3://{server.bucket}/t-{uuid.uuid4().hex[:10]}", server.endpoint
