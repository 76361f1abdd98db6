"""Databases of real ROM samples: on a Dask LocalCluster of 2 workers, and killed then resumed."""

import os
import random
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from homog.database import (
    SampleStore,
    dask_client,
    load_config,
    run_database,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
samples = 8
seed = 5
[variables]
"microstructure.volume_fraction" = [0.15, 0.3]
"materials.matrix.onset" = [0.01, 0.04]
[microstructure]
generator = "circles"
radius = 0.12
shape = [32, 32]
[materials.matrix]
model = "von_mises_damage"
E = 100.0
nu = 0.3
hardening = { law = "linear", sigma_y0 = 0.5, H = 1.0 }
onset = 0.02
softening_strain = 0.02
[materials.phase1]
model = "linear_elastic"
E = 500.0
nu = 0.19
[rom]
clusters = { matrix = 2, phase1 = 1 }
[loading]
type = "uniaxial"
max_strain = 0.12
steps = 40
"""


def test_a_failing_sample_is_recorded_and_the_rest_finish_on_two_workers(tmp_path):
    # a design table whose last particle radius cannot fit in the RVE: rve_gen raises
    radii = [0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14, 0.6]
    (tmp_path / "radii.csv").write_text("microstructure.radius\n"
                                        + "".join(f"{r}\n" for r in radii))
    text = CONFIG.replace("samples = 8\n", "").replace(
        '"microstructure.volume_fraction" = [0.15, 0.3]\n"materials.matrix.onset" = [0.01, 0.04]',
        '"microstructure.radius" = [0.05, 0.6]').replace("radius = 0.12", "volume_fraction = 0.2")
    (tmp_path / "db.toml").write_text(text + '[design]\nmethod = "table"\ntable = "radii.csv"\n')
    config = load_config(tmp_path / "db.toml")
    with dask_client(2) as client:
        report = run_database(config, tmp_path / "db.zarr", client=client)
    assert (report.complete, report.failed) == (7, 1)
    table = summary_table(tmp_path / "db.zarr")
    assert table.loc["doe-000007", "status"] == "failed"
    assert "ValueError" in table.loc["doe-000007", "error"]
    done = table[table["status"] == "complete"]
    assert len(done) == 7 and done["toughness"].gt(0).all()
    assert done["worker"].nunique() == 2   # both workers took part
    store = SampleStore.open(tmp_path / "db.zarr")
    curve = store.sample("doe-000000")["arrays"]
    assert curve["stress"].shape == curve["strain"].shape and curve["stress"].shape[1] == 6
    # the stored curve is the one the metrics describe
    assert curve["stress"][:, 0].max() == pytest.approx(done.loc["doe-000000", "peak_stress"])


def test_a_run_killed_with_sigkill_resumes_with_every_sample_exactly_once(tmp_path):
    (tmp_path / "db.toml").write_text(CONFIG)
    store = tmp_path / "db.zarr"
    command = ["database", "run", str(tmp_path / "db.toml"), "--store", str(store),
               "--workers", "0"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.Popen([sys.executable, "-m", "homog", *command], cwd=tmp_path, env=env,
                           start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if store.exists() and any(a["status"] == "complete"
                                      for a in SampleStore.open(store).scan().values()):
                break
            time.sleep(0.02)
        time.sleep(random.Random(7).uniform(0.0, 0.5))  # a random point of the run
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    before = SampleStore.open(store).scan()
    complete = {k for k, a in before.items() if a["status"] == "complete"}
    assert 1 <= len(complete) < 8, "the kill should land mid-run"
    report = run_database(load_config(tmp_path / "db.toml"), store)
    assert report.skipped_complete == len(complete)
    assert report.complete == 8 - len(complete) and report.failed == 0
    after = SampleStore.open(store)
    assert after.ids() == [f"doe-{k:06d}" for k in range(8)]
    scan = after.scan()
    assert all(a["status"] == "complete" and a["attempts"] == 1 for a in scan.values())
    for name in complete:   # committed samples were not run again
        assert scan[name]["written"] == before[name]["written"]
    table = summary_table(after)
    assert len(table) == 8 and np.isfinite(table["toughness"]).all()


def test_local_workers_do_not_collide_with_a_busy_dashboard_port():
    """distributed starts an HTTP server even with dashboard_address=None, on :8787
    (dask/distributed#8136): with that port taken (another database, a notebook's cluster) the
    run warned "Port 8787 is already in use". Our LocalCluster takes a free local port."""
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 8787))
        busy.listen()
    except OSError:  # already taken by someone else: the case under test all the same
        pass
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
    finally:
        busy.close()
    assert not [w for w in caught if "already in use" in str(w.message)], \
        [str(w.message) for w in caught]
