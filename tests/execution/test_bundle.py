"""Files between the store and a Ray node: regular files only, within a byte
budget, and never written outside the target directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.execution.bundle import list_files, pack, unpack


def test_pack_reads_regular_files_in_order_within_the_budget(tmp_path: Path) -> None:
    (tmp_path / "small.json").write_bytes(b"{}")
    (tmp_path / "big.pt").write_bytes(b"x" * 100)
    (tmp_path / "last.log").write_bytes(b"tail")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "model.zip").write_bytes(b"zip")
    os.symlink("/etc/hostname", tmp_path / "planted.json")

    assert list_files(tmp_path) == ["big.pt", "last.log", "small.json"]  # no link, no dir
    names = ["small.json", "planted.json", "big.pt", "missing.txt", "sub/model.zip", "last.log"]
    bundle, left_out = pack(tmp_path, names, max_bytes=20)
    assert bundle == {"small.json": b"{}", "sub/model.zip": b"zip", "last.log": b"tail"}
    assert left_out == ["planted.json", "big.pt"]  # a link is never followed; too big


def test_unpack_writes_nested_files_and_refuses_escapes(tmp_path: Path) -> None:
    unpack({"stats.json": b"{}", "checkpoint/model.zip": b"zip"}, tmp_path / "out")
    assert (tmp_path / "out" / "checkpoint" / "model.zip").read_bytes() == b"zip"
    for name in ("../escape.txt", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="not a plain relative file name"):
            unpack({name: b"x"}, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
