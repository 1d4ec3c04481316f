"""Shared fixtures: a real S3 server (SeaweedFS), storage on both backends, credentials in env."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.s3server import WeedS3


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
