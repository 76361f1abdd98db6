"""Database throughput: samples per hour of 2D 200² fibre RVEs (18 clusters) run to failure.

Runs the first N samples of ``examples/database/fibres.toml`` in a fresh store in this process
(no Dask) and on a LocalCluster of 1 and 2 workers (one thread each), and prints one table:

- ``start_s``: LocalCluster start-up (not counted in the rate);
- ``wall_s`` and ``samples/h``: from the first submission to the last commit;
- ``sample_s``: mean time of one sample inside its worker (RVE + offline + online);
- ``overhead_s``: wall time per sample not spent in a sample, (wall × workers − Σ sample) / N:
  Dask scheduling and transfers, Zarr commits, idle workers at the end;
- ``zarr_ms``: one commit to the store (group, curves, attributes), timed apart.

    python benchmarks/database.py --samples 16 --workers 1 2
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from homog.database import SampleStore, dask_client, load_config, run_database
from homog.database.config import tomllib

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "database" / "fibres.toml"


def zarr_commit_ms(store: SampleStore, repeats: int = 20) -> float:
    """Median time of committing a copy of the store's first sample, in ms."""
    name = store.ids()[0]
    sample = store.sample(name)
    spec = {"id": "bench-000000", "origin": "bench", "index": 0, "point": sample["point"],
            "inputs": sample["inputs"], "seed": sample["seed"]}
    record = {"status": "complete", "outputs": sample.get("outputs", {}),
              "arrays": sample["arrays"], "info": sample.get("info", {}),
              "elapsed_s": 0.0, "worker": ""}
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        store.write(spec, record, 1)
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-serial", action="store_true", help="skip the in-process run")
    args = parser.parse_args()
    with EXAMPLE.open("rb") as file:
        raw = tomllib.load(file)
    config = load_config(raw | {"samples": args.samples})
    print(f"# {date.today()}  {platform.node()}  {platform.processor() or platform.machine()}"
          f"  {args.samples} samples of {EXAMPLE.name} (200², 18 clusters, to failure)")
    print(f"{'workers':>8} {'start_s':>8} {'wall_s':>8} {'samples/h':>10} {'sample_s':>9} "
          f"{'overhead_s':>10} {'failed':>7} {'zarr_ms':>8}")
    runs = ([0] if not args.no_serial else []) + args.workers
    with tempfile.TemporaryDirectory() as folder:
        for workers in runs:
            path = Path(folder) / f"db{workers}.zarr"
            t = time.perf_counter()
            if workers == 0:
                report = run_database(config, path)
                start = 0.0
            else:
                with dask_client(workers) as client:
                    start = time.perf_counter() - t
                    report = run_database(config, path, client=client)
            n, lanes = report.ran, max(workers, 1)
            overhead = (report.elapsed_s * lanes - report.sample_s) / n
            commit = zarr_commit_ms(SampleStore.open(path, writable=True))
            label = "in-proc" if workers == 0 else str(workers)
            print(f"{label:>8} {start:8.1f} {report.elapsed_s:8.1f} "
                  f"{3600 * n / report.elapsed_s:10.0f} {report.sample_s / n:9.2f} "
                  f"{overhead:10.2f} {report.failed:7d} {commit:8.1f}", flush=True)


if __name__ == "__main__":
    main()
