"""A store survives concurrent drivers, kills at its worst moments and damaged files: every
sample ends up present exactly once, with its attempt count.

Kills are real: a driver process runs ``run_database`` with a synthetic labeller and SIGKILLs
itself at a chosen point (a patched store step), or the test kills it while it waits.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from database_cases import tiny_config

from homog.cli import main
from homog.database import SampleStore, load_config, run_database, summary_table
from homog.database.config import tomllib
from homog.database.lock import LOCK_NAME, StoreLockedError
from homog.database.store import _ZARR3

ROOT = Path(__file__).resolve().parents[1]
# metadata files of a sample group (its attributes) and of an array: Zarr 3 and Zarr 2
GROUP_META, ARRAY_META = ("zarr.json", "zarr.json") if _ZARR3 else (".zattrs", ".zarray")
CONFIG = tiny_config(3)
# A driver: argv = mode, folder. Sample 3 fails when "fail" is in the mode; with "block" the
# labeller of sample 2 writes folder/waiting and waits for folder/go; "kill-install" and
# "kill-rmtree" SIGKILL the process inside a commit's rename or a deletion.
DRIVER = """
import os, shutil, signal, sys, time
from pathlib import Path
import numpy as np
from homog.database import SampleStore, load_config, run_database

mode, folder = sys.argv[1], Path(sys.argv[2])

def labeller(spec):
    if "block" in mode and spec["index"] == 2:
        (folder / "waiting").write_text(str(os.getpid()))
        while not (folder / "go").exists():
            time.sleep(0.02)
    if "fail" in mode and spec["index"] == 3:
        raise RuntimeError("sample 3 cannot be labelled")
    vf, E = spec["inputs"].values()
    return {"outputs": {"toughness": vf * E}, "arrays": {"stress": np.full((3, 6), E)}}

def kill(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if "kill-install" in mode:   # the old group is in the trash, the new one staged: die
    SampleStore._install = kill
if "kill-rmtree" in mode:    # die half-way through deleting a folder
    def half_then_kill(path, *args, **kwargs):
        names = sorted(Path(path).rglob("*"), key=lambda p: -len(p.parts))
        for p in names[: len(names) // 2]:
            p.unlink() if p.is_file() else p.rmdir()
        kill()
    shutil.rmtree = half_then_kill
attempts = 3 if "retry" in mode else 1
run_database(load_config(folder / "db.toml"), folder / "db.zarr", labeller=labeller,
             max_attempts=attempts)
"""


def synthetic(spec):
    vf, E = spec["inputs"].values()
    return {"outputs": {"toughness": vf * E}, "arrays": {"stress": [[E] * 6] * 3}}


def failing(spec):
    if spec["index"] == 3:
        raise RuntimeError("sample 3 cannot be labelled")
    return synthetic(spec)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "db.toml").write_text(CONFIG)
    (tmp_path / "driver.py").write_text(DRIVER)
    return tmp_path


def driver(folder, mode):
    """Start the driver script in its own process (session, for a clean kill)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(folder / "driver.py"), mode, str(folder)],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def wait_for(path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def config():
    return load_config(tomllib.loads(CONFIG))


def assert_each_sample_once(path, failed=(), attempts=None):
    """Every design point is one final group; nothing staged, trashed or half-written."""
    store = SampleStore.open(path)
    assert store.ids() == [f"doe-{k:06d}" for k in range(6)]
    scan = store.scan(verify=True)
    for name, attrs in scan.items():
        assert attrs["status"] == ("failed" if name in failed else "complete"), name
    assert not any((path / ".staging").glob("*")) and not any((path / ".trash").glob("*"))
    if attempts is not None:
        assert {k: a["attempts"] for k, a in scan.items()} == attempts
    table = summary_table(path)
    assert list(table.index) == store.ids()
    return scan


def test_a_second_driver_is_refused_while_the_first_runs(folder, capsys):
    first = driver(folder, "block")
    try:
        wait_for(folder / "waiting", first)
        ran = []
        with pytest.raises(StoreLockedError, match=rf"in use by another driver, pid {first.pid} "
                           r"on .*one driver writes a store at a time"):
            run_database(config(), folder / "db.zarr", labeller=lambda s: ran.append(s))
        code = main(["database", "run", str(folder / "db.toml"), "--store",
                     str(folder / "db.zarr"), "--workers", "0"])
        err = capsys.readouterr().err
        assert code == 1 and ran == []
        assert err.startswith("homog database: error: store ") and f"pid {first.pid}" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        (folder / "go").write_text("")
        assert first.wait(timeout=60) == 0, first.stderr.read().decode()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert_each_sample_once(folder / "db.zarr", attempts={f"doe-{k:06d}": 1 for k in range(6)})
    assert (folder / "db.zarr" / LOCK_NAME).read_text() == ""   # released


def test_two_drivers_started_together_on_a_new_store_run_it_once(folder):
    drivers = [driver(folder, "block"), driver(folder, "block")]
    try:
        deadline = time.monotonic() + 60
        while all(d.poll() is None for d in drivers) and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = next(d for d in drivers if d.poll() is not None)
        assert refused.returncode == 1 and not (folder / "go").exists()
        assert "StoreLockedError: store" in refused.stderr.read().decode()
        (folder / "go").write_text("")
        assert all(d.wait(timeout=60) in (0, 1) for d in drivers)
        assert sorted(d.returncode for d in drivers) == [0, 1]
    finally:
        for d in drivers:
            if d.poll() is None:
                os.killpg(d.pid, signal.SIGKILL)
    assert_each_sample_once(folder / "db.zarr", attempts={f"doe-{k:06d}": 1 for k in range(6)})
    assert not list(folder.glob(".db.zarr.*.tmp"))   # the loser's unfinished store is gone


def test_a_killed_drivers_lock_is_taken_over_with_a_note(folder):
    first = driver(folder, "block")
    try:
        wait_for(folder / "waiting", first)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    holder = json.loads((folder / "db.zarr" / LOCK_NAME).read_text())
    assert holder["pid"] == first.pid
    report = run_database(config(), folder / "db.zarr", labeller=synthetic)
    assert [n for n in report.notes if "taking over" in n] == [
        n for n in report.notes if f"pid {first.pid}" in n] and len(report.notes) == 1
    assert report.skipped_complete == 2 and report.complete == 4
    assert_each_sample_once(folder / "db.zarr")


def test_without_flock_a_live_pid_holds_the_store_and_a_dead_one_is_taken_over(
        folder, monkeypatch):
    import fcntl

    def no_flock(fd, operation):
        raise OSError(37, "No locks available")   # ENOLCK: e.g. an NFS mount without lockd

    run_database(config(), folder / "db.zarr", labeller=synthetic)
    monkeypatch.setattr(fcntl, "flock", no_flock)
    lock = folder / "db.zarr" / LOCK_NAME
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock.write_text(json.dumps({"host": os.uname().nodename, "pid": sleeper.pid}))
        with pytest.raises(StoreLockedError, match=rf"pid {sleeper.pid} .*no file locks, so if "
                           rf"that driver is gone, delete .*{LOCK_NAME}"):
            SampleStore.open(folder / "db.zarr", writable=True)
    finally:
        sleeper.kill()
        sleeper.wait()
    with SampleStore.open(folder / "db.zarr", writable=True) as store:   # now a dead pid
        assert store.notes and f"taking over from driver pid {sleeper.pid}" in store.notes[0]


def test_a_truncated_sample_metadata_file_is_removed_and_run_again(folder, capsys):
    run_database(config(), folder / "db.zarr", labeller=synthetic)
    meta = folder / "db.zarr" / "samples" / "doe-000002" / GROUP_META
    meta.write_bytes(meta.read_bytes()[:40])          # power loss: half a metadata file
    array = folder / "db.zarr" / "samples" / "doe-000004" / "stress" / ARRAY_META
    array.write_bytes(array.read_bytes()[:25])        # and half an array's
    table = summary_table(folder / "db.zarr")
    assert table.loc["doe-000002", "status"] == "incomplete"
    assert main(["database", "summary", str(folder / "db.zarr")]) == 0
    assert "1 incomplete" in capsys.readouterr().out
    report = run_database(config(), folder / "db.zarr", labeller=synthetic)
    assert report.removed == ["doe-000002", "doe-000004"] and report.complete == 2
    assert_each_sample_once(folder / "db.zarr")


def test_a_sample_folder_without_metadata_is_listed_and_run_again(folder):
    run_database(config(), folder / "db.zarr", labeller=synthetic)
    (folder / "db.zarr" / "samples" / "doe-000001" / GROUP_META).unlink()
    assert SampleStore.open(folder / "db.zarr").scan()["doe-000001"]["status"] == "incomplete"
    report = run_database(config(), folder / "db.zarr", labeller=synthetic)
    assert report.removed == ["doe-000001"] and report.complete == 1
    assert_each_sample_once(folder / "db.zarr")


def test_a_kill_during_the_cleanup_of_a_damaged_sample_is_repaired(folder):
    run_database(config(), folder / "db.zarr", labeller=synthetic)
    meta = folder / "db.zarr" / "samples" / "doe-000003" / GROUP_META
    meta.write_bytes(meta.read_bytes()[:40])
    killed = driver(folder, "kill-rmtree")
    assert killed.wait(timeout=60) == -signal.SIGKILL, killed.stderr.read().decode()
    assert not (folder / "db.zarr" / "samples" / "doe-000003").exists()
    assert (folder / "db.zarr" / ".trash" / "doe-000003.removed").exists()   # half deleted
    report = run_database(config(), folder / "db.zarr", labeller=synthetic)
    assert len(report.notes) == 1 and "taking over" in report.notes[0]   # nothing put back
    assert report.skipped_complete == 5 and report.complete == 1
    assert_each_sample_once(folder / "db.zarr")


def test_a_kill_during_a_retry_keeps_the_attempt_count(folder):
    run_database(config(), folder / "db.zarr", labeller=failing)
    killed = driver(folder, "fail-retry-kill-install")
    assert killed.wait(timeout=60) == -signal.SIGKILL, killed.stderr.read().decode()
    assert not (folder / "db.zarr" / "samples" / "doe-000003").exists()   # set aside
    store = SampleStore.open(folder / "db.zarr", writable=True)
    assert any("doe-000003 put back" in note for note in store.notes)
    assert store.sample("doe-000003")["attempts"] == 1
    store.close()
    report = run_database(config(), folder / "db.zarr", labeller=failing, max_attempts=3)
    assert report.failed == 1 and report.skipped_complete == 5
    report = run_database(config(), folder / "db.zarr", labeller=synthetic, max_attempts=3)
    assert report.complete == 1
    expected = {f"doe-{k:06d}": 1 for k in range(6)} | {"doe-000003": 3}
    assert_each_sample_once(folder / "db.zarr", attempts=expected)


def test_a_half_staged_sample_and_a_stray_trash_entry_are_cleaned_up(folder):
    run_database(config(), folder / "db.zarr", labeller=synthetic)
    path = folder / "db.zarr"
    staged = path / ".staging" / "doe-000005"
    staged.mkdir(parents=True)
    (staged / "zarr.json").write_text('{"zarr_format": 3, "node_ty')
    (path / ".trash").mkdir(exist_ok=True)
    os.rename(path / "samples" / "doe-000004", path / ".trash" / "doe-000004")
    (path / ".trash" / "doe-000001").mkdir()       # the remains of a finished deletion
    report = run_database(config(), path, labeller=synthetic)
    assert report.ran == 0 and report.notes == [f"{path}: sample doe-000004 put back from an "
                                                "interrupted replacement"]
    assert_each_sample_once(path)


def test_the_cli_says_in_one_line_that_it_takes_over_a_dead_drivers_store(folder, capsys):
    run_database(config(), folder / "db.zarr", labeller=synthetic)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / "db.zarr" / LOCK_NAME).write_text(json.dumps(
        {"host": os.uname().nodename, "pid": dead.pid, "started": "2026-01-01T00:00:00+00:00",
         "command": "homog database run db.toml --store db.zarr"}))
    assert main(["database", "run", str(folder / "db.toml"), "--store",
                 str(folder / "db.zarr"), "--workers", "0"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"{folder / 'db.zarr'}: taking over from driver pid {dead.pid} "
                                f"on {os.uname().nodename} (started 2026-01-01T00:00:00+00:00: "
                                "homog database run db.toml --store db.zarr), which ended "
                                "without releasing the store (killed or crashed); its "
                                "unfinished samples are cleaned up and run again"]
    assert "0 complete, 0 failed this run" in out and "skipped 6 complete" in out
