"""Copy a directory tree from S3 (or any Storage root) into a local directory, for tools
that read local files only (infini-gram's suffix arrays are memory-mapped).

pyarrow's `copy_files` moves the bytes, from the S3 filesystem a `memx.storage.Storage`
builds for the same endpoint, region and bounded retries, so an outage ends in the same
StorageUnavailable. Around it, what makes an interrupted sync safe to trust and cheap
to redo:

- a file already present locally with the remote size is not copied again;
- files are copied into a staging directory inside `dest`, fsynced, then renamed into
  place: a crash never leaves a truncated file under a real name;
- the marker file (`index.json`) is removed before anything is copied and copied last,
  so a directory holding the marker is complete; a tree without one (an infini-gram
  index as released) gets a local COMPLETE file instead, removed first, written last;
- one sync at a time per `dest` (an flock the OS releases when its holder dies), which
  is what lets a sync clear the staging files of one that was killed.

Equal size is all that identifies a file already synced: an object replaced by one of
the same size under the same key is not noticed (rebuild an index under a new prefix).
Local files the remote does not have are left alone. It knows no index format: only
keys, sizes, and which one file marks completeness.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from typing import Iterator

import pyarrow.fs as pafs

from memx.errors import ConfigError, MemxFailure
from memx.storage import Storage, fsync_dir

MARKER = "index.json"
COMPLETE = ".sync-complete"  # written last by a sync of a tree that has no marker of its own
STAGING = ".sync-staging"
_LOCK = ".sync.lock"
_CHUNK_BYTES = 8 << 20  # copy_files buffer: large objects stream in fewer, bigger reads


@contextmanager
def _only_sync_into(dest: str) -> Iterator[None]:
    with open(os.path.join(dest, _LOCK), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits for another sync into dest, never for a dead one
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _local_size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return None


def _copy_one(remote: Storage, key: str, size: int, dest: str, staging: str) -> None:
    staged, final = os.path.join(staging, key), os.path.join(dest, key)
    os.makedirs(os.path.dirname(staged), exist_ok=True)
    remote.call(f"copy {key}", lambda: pafs.copy_files(
        remote.path(key), staged, source_filesystem=remote.fs,
        destination_filesystem=pafs.LocalFileSystem(), chunk_size=_CHUNK_BYTES))
    copied = os.path.getsize(staged)
    if copied != size:
        raise MemxFailure(f"{remote.uri(key)} changed while it was copied ({size} bytes listed, "
                          f"{copied} read); rerun when it is no longer being written")
    fd = os.open(staged, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.replace(staged, final)


def sync_to_local(uri: str, dest: str, endpoint_url: str | None = None, region: str | None = None,
                  *, marker: str = MARKER, require_marker: bool = True) -> str:
    """Make local directory `dest` a complete copy of the files under `uri`; returns `dest`.

    ConfigError when `uri` holds no files or no `marker` (unless `require_marker` is
    False: a released index has no memx marker; then the local COMPLETE file, written
    last, is what says the copy is whole); StorageUnavailable (after the libraries'
    retries) when the store is down; any local error as raised.
    """
    remote = Storage(uri, endpoint_url, region)
    remote.when_back = "rerun the same command: files already copied are kept"
    sizes = remote.sizes("")
    if not sizes:
        raise ConfigError(f"{uri}: no files there")
    if marker not in sizes:
        if require_marker:
            raise ConfigError(f"{uri}: no {marker} there (not built, or its upload is incomplete)")
        return _sync_unmarked(remote, sizes, dest)
    os.makedirs(dest, exist_ok=True)
    staging = os.path.join(dest, STAGING)
    with _only_sync_into(dest):
        shutil.rmtree(staging, ignore_errors=True)  # a killed sync's partial copies
        todo = [key for key in sorted(sizes)
                if key != marker and _local_size(os.path.join(dest, key)) != sizes[key]]
        if todo:
            # From here until the marker is back the directory reads as incomplete.
            try:
                os.unlink(os.path.join(dest, marker))
            except FileNotFoundError:
                pass
        try:
            for key in todo + [marker]:  # the marker is tiny: always refreshed, always last
                _copy_one(remote, key, sizes[key], dest, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(dest)
    return dest


def _sync_unmarked(remote: Storage, sizes: dict[str, int], dest: str) -> str:
    """The same copy for a tree without a marker: COMPLETE, local, goes first and comes back last."""
    os.makedirs(dest, exist_ok=True)
    staging, complete = os.path.join(dest, STAGING), os.path.join(dest, COMPLETE)
    with _only_sync_into(dest):
        shutil.rmtree(staging, ignore_errors=True)
        todo = [key for key in sorted(sizes) if _local_size(os.path.join(dest, key)) != sizes[key]]
        if todo or not os.path.exists(complete):
            try:
                os.unlink(complete)
            except FileNotFoundError:
                pass
            try:
                for key in todo:
                    _copy_one(remote, key, sizes[key], dest, staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            with open(complete, "w") as f:
                f.write(f"{len(sizes)} files from {remote.uri('')}\n")
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(dest)
    return dest
