"""The one atomic-write helper (homog.files, used by the database store and every writer):
durable, all-or-nothing, and with the permissions the user's umask gives."""

import os
import stat

import pytest

from homog import files
from homog.files import atomic_open, file_mode, fsync_tree


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_written_file_has_the_permissions_of_the_umask(tmp_path, umask, mask, mode):
    os.umask(mask)
    assert file_mode() == mode
    with atomic_open(tmp_path / "a.txt") as file:
        file.write("x")
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == mode


def test_the_file_and_its_folder_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    synced, renamed = [], []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        renamed.append(len(synced))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    with atomic_open(tmp_path / "b.bin", "wb") as file:
        file.write(b"data")
    assert synced[0].startswith(".b.bin.") and renamed == [1]   # the data, then the rename
    assert synced[1] == tmp_path.name                            # then the folder entry
    synced.clear()
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "c").write_text("c")
    fsync_tree(tmp_path / "tree")
    assert synced == ["c", "sub", "tree"]                        # files, then folders upwards


def test_an_exception_leaves_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "c.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "c.txt") as file:
        file.write("half")
        raise RuntimeError("crash while writing")
    assert (tmp_path / "c.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]
