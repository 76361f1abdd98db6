"""RVE databases: design of experiments, labelling on Dask, a Zarr store, learning.

The data-driven framework of Bessa et al., CMAME 320 (2017) 633–667: sample the space of
microstructure, material and loading descriptors (:mod:`~homog.database.design`), run one
reduced-order RVE simulation to failure per point (:mod:`~homog.database.sample`) on a Dask
cluster (:mod:`~homog.database.runner`), keep every result in a Zarr store
(:mod:`~homog.database.store`), tabulate (:mod:`~homog.database.summary`) and learn from it
with Gaussian processes, also choosing the next samples where the model is least certain
(:mod:`~homog.database.learn`, :mod:`~homog.database.explore`). Guide: docs/database.md.

    config = load_config("fibres.toml")
    with dask_client(workers=2) as client:
        run_database(config, "db.zarr", client=client)
    table = summary_table("db.zarr")
"""

from homog.database.config import DatabaseConfig, load_config
from homog.database.examples import example_config
from homog.database.runner import RunReport, dask_client, run_database
from homog.database.sample import execute, simulate
from homog.database.store import SampleStore
from homog.database.summary import export_table, summary_table

__all__ = [
    "DatabaseConfig",
    "RunReport",
    "SampleStore",
    "dask_client",
    "example_config",
    "execute",
    "export_table",
    "load_config",
    "run_database",
    "simulate",
    "summary_table",
]
