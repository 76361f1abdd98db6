"""Shared fixtures: the test oracles module on the path, one-thread runs of small grids."""

import sys
from pathlib import Path

import numba
import pytest
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def one_thread():
    """Small grids run faster on one thread, and immune to other processes on the CPUs."""
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    with threadpool_limits(1):
        yield
    numba.set_num_threads(previous)
