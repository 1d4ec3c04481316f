"""A lab directory on disk: where the cache keeps one (`lab_path`), the marker of a build in
progress, and `check_lab`, which tells a complete, undamaged lab from a damaged or
half-finished one by comparing every file with the hashes its `lab.json` recorded.

It reads what `memx.lab.build` wrote; it builds nothing and knows no stage of the build.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from memx.errors import ConfigError, MemxFailure
from memx.lab.presets import FORMAT, get_preset, settings_key

MARKER = ".memx-lab"


def default_cache_root() -> Path:
    return Path(os.environ.get("MEMX_CACHE") or Path.home() / ".cache" / "memx").expanduser()


def lab_path(preset: str = "default", seed: int = 0) -> Path:
    """Where `build_lab(out=None, ...)` keeps this preset and seed."""
    key = settings_key(preset, get_preset(preset), seed)
    return default_cache_root().resolve() / "lab" / f"{preset}-{key}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(root: Path) -> dict[str, dict]:
    """{relative path: bytes, sha256} of every file the build made (not what runs add later)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in ("lab.json", MARKER) or rel.startswith(("runs/", "audit.")):
            continue  # outputs written into a finished lab are not part of the build
        out[rel] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return out


def check_lab(lab_dir: str | Path, hashes: bool = True) -> dict:
    """lab.json of a complete, undamaged lab; a clear error naming the problem otherwise."""
    lab_dir = Path(lab_dir)
    meta_path = lab_dir / "lab.json"
    if not meta_path.is_file():
        if (lab_dir / MARKER).exists():
            raise ConfigError(f"lab {lab_dir}: half-finished build (no lab.json); run `memx lab build` again")
        raise ConfigError(f"lab {lab_dir}: not a memx lab (no lab.json); build one with `memx lab build`")
    fix = f"delete {lab_dir} and run `memx lab build` again"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files = meta["files"]
        meta["preset"], meta["settings"], meta["stats"], meta["key"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MemxFailure(f"lab {lab_dir}: lab.json is unreadable ({error}); {fix}") from None
    if meta.get("format") != FORMAT:
        raise MemxFailure(f"lab {lab_dir}: built by another memx version (format {meta.get('format')}); {fix}")
    for rel, expected in files.items():
        path = lab_dir / rel
        if not path.is_file():
            raise MemxFailure(f"lab {lab_dir}: corrupt cache entry, {rel} is missing; {fix}")
        if path.stat().st_size != expected["bytes"] or (hashes and sha256_file(path) != expected["sha256"]):
            raise MemxFailure(f"lab {lab_dir}: corrupt cache entry, {rel} does not match lab.json; {fix}")
    return meta
