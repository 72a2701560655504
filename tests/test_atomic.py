"""Atomic output: publishing a file links it where it can (no bytes written twice) and stays independent of the
source once the source is replaced."""

from __future__ import annotations

import os

from srrepro.atomic import copy_file, write_text


def test_copy_file_links_and_survives_replacement_of_the_source(tmp_path):
    source, target = tmp_path / "run" / "model.pt", tmp_path / "models" / "model.pt"
    write_text(source, "weights 1")
    copy_file(source, target)
    assert target.read_text() == "weights 1" and os.stat(target).st_ino == os.stat(source).st_ino
    write_text(source, "weights 2")  # files are replaced, not modified in place
    assert target.read_text() == "weights 1"
    assert [p.name for p in target.parent.iterdir()] == ["model.pt"]  # no temporary left behind
