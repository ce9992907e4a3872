"""Fake ml-100k.zip archives for the download tests, and a registry entry that trusts them.

The archives hold the tiny fake ml-100k of conftest (never MovieLens data).
"""

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

from lessons.data import registry


def make_zip(members: dict[str, bytes], extra: list[zipfile.ZipInfo] = ()) -> bytes:
    """A zip of `members` (path → bytes) plus `extra` entries (e.g. unsafe ones) of b"evil"."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for info in extra:
            zf.writestr(info, b"evil")
    return buffer.getvalue()


def fake_ml100k_members(files: dict[str, str]) -> dict[str, bytes]:
    """conftest's fake file texts as the members of an ml-100k.zip (Latin-1, like GroupLens)."""
    return {f"ml-100k/{name}": text.encode("latin-1") for name, text in files.items()}


def register_archive(monkeypatch, archive: bytes, **override) -> registry.Variant:
    """Point the "100k" registry entry at `archive`'s size and checksums (then `override`)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = zf.namelist()

        def sha(name: str) -> str:  # of the member, or of nothing when the zip lacks it
            member = f"ml-100k/{name}"
            return hashlib.sha256(zf.read(member) if member in names else b"").hexdigest()

        others = tuple((name, sha(name)) for name, _ in registry.VARIANTS["100k"].other_sha256)
        key = sha("u.data")
    spec = replace(
        registry.VARIANTS["100k"],
        size=len(archive),
        md5=hashlib.md5(archive).hexdigest(),
        sha256=hashlib.sha256(archive).hexdigest(),
        key_sha256=key,
        other_sha256=others,
    )
    spec = replace(spec, **override)
    monkeypatch.setitem(registry.VARIANTS, "100k", spec)
    return spec


def leftovers(root: Path) -> list[str]:
    """Names in a data folder (none when it is gone): what a failed load left behind."""
    return sorted(p.name for p in root.iterdir()) if root.exists() else []
