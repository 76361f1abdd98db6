"""The one atomic-write helper (rve_gen.io.atomic, re-exported by homog.files; used by the
database store and every writer): durable, all-or-nothing, with the umask's permissions."""

import os
import stat

import pytest

from homog.files import atomic_open, file_mode, fsync_tree
from rve_gen.io import atomic


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

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
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


def test_rve_files_get_the_umask_permissions_too(tmp_path):
    """RVE files go through the same helper: the umask's permissions, not mkstemp's 0600."""
    import numpy as np

    from rve_gen import Microstructure
    from rve_gen.io import write

    previous = os.umask(0o027)
    try:
        write(tmp_path / "micro.npz", Microstructure(np.zeros((4, 4), dtype=np.int32)))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "micro.npz").stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["micro.npz"]
