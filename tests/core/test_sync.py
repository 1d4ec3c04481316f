"""memx.sync.sync_to_local against a real S3 server (SeaweedFS): a complete copy, files of
the same size skipped, the marker copied last, and a sync that dies mid-copy leaving
nothing that looks complete, which a rerun then finishes."""

from __future__ import annotations

import os
import uuid

import pyarrow.fs as pafs
import pytest

import memx.sync as sync_module
from memx.errors import ConfigError, StorageUnavailable
from memx.storage import Storage
from memx.sync import sync_to_local

FILES = {"tokenized.0": b"\xffhello world" * 100, "table.0": b"\x01\x02" * 600, "offset.0": b"\x00" * 8,
         "sub/extra.bin": b"nested", "index.json": b'{"format": "memx-infini-gram-u8"}'}


@pytest.fixture
def remote(s3_server):
    uri = f"s3://{s3_server.bucket}/index-{uuid.uuid4().hex[:10]}"
    storage = Storage(uri, s3_server.endpoint)
    for key, data in FILES.items():
        storage.write_bytes(key, data)
    return uri, s3_server.endpoint, storage


def _tree(dest) -> dict[str, bytes]:
    out = {}
    for root, _, names in os.walk(dest):
        for name in names:
            path = os.path.join(root, name)
            out[os.path.relpath(path, dest)] = open(path, "rb").read()
    return out


def _visible(dest) -> dict[str, bytes]:
    return {key: data for key, data in _tree(dest).items() if not os.path.basename(key).startswith(".")}


def test_sync_copies_everything_then_skips_what_is_there(remote, tmp_path):
    uri, endpoint, storage = remote
    dest = str(tmp_path / "cache")
    assert sync_to_local(uri, dest, endpoint) == dest
    assert _visible(dest) == FILES
    assert not os.path.exists(os.path.join(dest, sync_module.STAGING))
    # Same size: not copied again (proved by a local byte the remote does not have).
    with open(os.path.join(dest, "table.0"), "r+b") as f:
        f.write(b"\x09")
    storage.write_bytes("offset.0", b"\x00" * 16)  # a different size: copied again
    sync_to_local(uri, dest, endpoint)
    tree = _visible(dest)
    assert tree["table.0"][:1] == b"\x09" and tree["offset.0"] == b"\x00" * 16


def test_sync_killed_mid_copy_leaves_nothing_that_looks_complete(remote, tmp_path, monkeypatch):
    uri, endpoint, _ = remote
    dest = str(tmp_path / "cache")
    sync_to_local(uri, dest, endpoint)
    for name in ("tokenized.0", "table.0"):  # an older index was here: these must be redone
        with open(os.path.join(dest, name), "ab") as f:
            f.write(b"stale")
    real_copy, copied = pafs.copy_files, []

    def dies_on_second_file(source, destination, **kwargs):
        if copied:
            real_copy(source, destination, **kwargs)
            with open(destination, "r+b") as f:  # a partial file where the copy stopped
                f.truncate(3)
            raise OSError("AWS Error NETWORK_CONNECTION: connection reset mid-body")
        copied.append(source)
        real_copy(source, destination, **kwargs)

    monkeypatch.setattr(sync_module.pafs, "copy_files", dies_on_second_file)
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "1")
    with pytest.raises(StorageUnavailable, match=rf"{endpoint}.*copy .*rerun"):
        sync_to_local(uri, dest, endpoint)
    tree = _visible(dest)
    assert "index.json" not in tree, "an interrupted sync must not look complete"
    assert tree["table.0"] == FILES["table.0"]  # the first redone file is whole
    assert tree["tokenized.0"] == FILES["tokenized.0"] + b"stale"  # the second was never renamed in
    assert not os.path.exists(os.path.join(dest, sync_module.STAGING))
    monkeypatch.undo()
    sync_to_local(uri, dest, endpoint)
    assert _visible(dest) == FILES


def test_sync_refuses_an_incomplete_or_empty_prefix(remote, s3_server, tmp_path):
    uri, endpoint, storage = remote
    storage.delete("index.json")
    with pytest.raises(ConfigError, match="no index.json"):
        sync_to_local(uri, str(tmp_path / "a"), endpoint)
    with pytest.raises(ConfigError, match="no files"):
        sync_to_local(f"s3://{s3_server.bucket}/nothing-{uuid.uuid4().hex[:6]}", str(tmp_path / "b"), endpoint)


def test_sync_from_an_unreachable_store_says_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with pytest.raises(StorageUnavailable, match=r"http://127\.0\.0\.1:9.*rerun"):
        sync_to_local("s3://bucket/index", str(tmp_path / "c"), "http://127.0.0.1:9")


def test_a_tree_without_a_marker_is_complete_only_once_its_last_file_is_in(remote, tmp_path, monkeypatch):
    """A released infini-gram index has no index.json: the local COMPLETE file stands in."""
    uri, endpoint, storage = remote
    storage.delete("index.json")
    unmarked = {k: v for k, v in FILES.items() if k != "index.json"}
    dest = str(tmp_path / "released")
    real_copy = pafs.copy_files

    def dies_on_last(source, destination, **kwargs):
        if source.endswith("tokenized.0"):  # the last key in sorted order
            raise OSError("AWS Error NETWORK_CONNECTION: connection reset mid-body")
        real_copy(source, destination, **kwargs)

    monkeypatch.setattr(sync_module.pafs, "copy_files", dies_on_last)
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "1")
    with pytest.raises(StorageUnavailable):
        sync_to_local(uri, dest, endpoint, require_marker=False)
    assert not os.path.exists(os.path.join(dest, sync_module.COMPLETE))
    monkeypatch.undo()
    assert sync_to_local(uri, dest, endpoint, require_marker=False) == dest
    assert _visible(dest) == unmarked and os.path.exists(os.path.join(dest, sync_module.COMPLETE))
