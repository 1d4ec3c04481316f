"""Storage plumbing taken from the libraries: botocore's and pyarrow's bounded retries (counted
on a loopback server that answers every request 503 SlowDown), the typed "store trouble"
classification, settings that survive pickling, and `atomic_local_file` / `link_if_absent`."""

from __future__ import annotations

import http.server
import os
import pickle
import threading

import pytest

from memx.errors import ConfigError, StorageUnavailable
from memx.storage import Storage, atomic_local_file, is_store_trouble, link_if_absent


class _SlowDown(http.server.BaseHTTPRequestHandler):
    BODY = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    def _answer(self) -> None:
        self.server.requests.append(self.command)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.BODY)

    do_GET = do_PUT = do_HEAD = do_POST = _answer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def overloaded(monkeypatch):
    """An endpoint that is up but answers 503 SlowDown to everything, counting requests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDown)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                        "AWS_EC2_METADATA_DISABLED": "true", "MEMX_STORAGE_ATTEMPTS": "3"}.items():
        monkeypatch.setenv(name, value)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_botocore_retries_a_bounded_number_of_times_then_names_the_endpoint(overloaded):
    endpoint = f"http://127.0.0.1:{overloaded.server_address[1]}"
    storage = Storage("s3://bucket/run", endpoint_url=endpoint)
    with pytest.raises(StorageUnavailable, match=rf"{endpoint}.*create _manifest/x\.json.*\(3 attempts\).*"
                                                 r"memx resume s3://bucket/run"):
        storage.create_if_absent("_manifest/x.json", b"1")
    assert overloaded.requests == ["PUT"] * 3


def test_pyarrow_retries_a_bounded_number_of_times_then_names_the_endpoint(overloaded):
    endpoint = f"http://127.0.0.1:{overloaded.server_address[1]}"
    storage = Storage("s3://bucket/run", endpoint_url=endpoint)
    with pytest.raises(StorageUnavailable, match=rf"{endpoint}.*read a\.json.*memx resume"):
        storage.read_bytes("a.json")
    assert len(overloaded.requests) == 3


def test_attempts_survive_pickling_into_another_process(overloaded, monkeypatch):
    endpoint = f"http://127.0.0.1:{overloaded.server_address[1]}"
    storage = Storage("s3://bucket/run", endpoint_url=endpoint)
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "5")  # what an actor's own environment might say
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.attempts == 3
    with pytest.raises(StorageUnavailable, match=r"\(3 attempts\)"):
        copy.exists("a.json")
    assert len(overloaded.requests) == 3


def test_attempts_knob_is_checked(monkeypatch):
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "0")
    with pytest.raises(ConfigError, match="MEMX_STORAGE_ATTEMPTS"):
        Storage("s3://bucket/run", endpoint_url="http://127.0.0.1:9")


def test_store_trouble_is_decided_by_type():
    import botocore.exceptions as bce

    def client_error(code: str, status: int) -> bce.ClientError:
        return bce.ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")

    assert is_store_trouble(bce.EndpointConnectionError(endpoint_url="http://x"))
    assert is_store_trouble(bce.ReadTimeoutError(endpoint_url="http://x"))
    assert is_store_trouble(client_error("InternalError", 500))
    assert is_store_trouble(client_error("SlowDown", 503))
    assert not is_store_trouble(client_error("AccessDenied", 403))
    assert not is_store_trouble(client_error("NoSuchBucket", 404))
    # pyarrow: network and service failures are plain OSErrors; path answers are typed
    assert is_store_trouble(OSError("AWS Error NETWORK_CONNECTION during HeadObject operation"))
    assert not is_store_trouble(FileNotFoundError(2, "Path does not exist"))
    assert not is_store_trouble(PermissionError(13, "denied"))
    assert not is_store_trouble(OSError(28, "No space left on device"))  # a local disk, via copy_files
    assert not is_store_trouble(ValueError("a bug, not an outage"))


def test_local_errors_are_never_renamed(tmp_path):
    storage = Storage(str(tmp_path / "run"))
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("missing.json")


def test_atomic_local_file_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "report.html"
    with atomic_local_file(str(target), "w") as out:
        out.write("caf\u00e9")
        assert not target.exists()  # nothing under the real name while writing
    assert target.read_text(encoding="utf-8") == "caf\u00e9"
    with pytest.raises(RuntimeError):
        with atomic_local_file(str(target)) as out:
            out.write(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == "caf\u00e9"  # the old file is untouched
    assert os.listdir(tmp_path) == ["report.html"]  # and no temp file is left behind
    with pytest.raises(FileNotFoundError):  # a missing directory is the caller's to report
        with atomic_local_file(str(tmp_path / "no" / "such.html")):
            pass


def test_link_if_absent_has_one_winner_and_no_leftovers(tmp_path):
    target = str(tmp_path / "m.json")
    assert link_if_absent(target, b"first") is True
    assert link_if_absent(target, b"second") is False
    assert open(target, "rb").read() == b"first"
    assert os.listdir(tmp_path) == ["m.json"]


def test_local_output_leaves_no_temp_files(tmp_path):
    storage = Storage(str(tmp_path / "run"))
    storage.write_bytes("a/b.bin", b"x")
    with pytest.raises(RuntimeError):
        with storage.open_output("a/c.bin") as out:
            out.write(b"y")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path / "run" / "a") == ["b.bin"]
