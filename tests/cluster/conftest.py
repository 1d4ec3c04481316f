"""Fixtures for tests that run the real Ray jobs: a tiny model family, and an in-process
local Ray started after the S3 fixture (so actors inherit its credentials from the env)."""

from __future__ import annotations

import pytest

from tests.support.tiny import build_family


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory):
    return build_family(tmp_path_factory.mktemp("family"))


@pytest.fixture(scope="module")
def local_ray(s3_server):
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray
    finally:
        ray.shutdown()
