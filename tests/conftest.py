"""Shared fixtures: the test oracles module on the path, one-thread runs of small grids."""

import sys
from pathlib import Path

import pytest

from kernels.threads import use_threads

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def one_thread():
    """Every pool of the library on one thread (kernels.threads), as the database runs samples."""
    with use_threads(1):
        yield
