"""The thread policy: one setting for every pool, one thread where threads do not pay, and the
same numbers whatever the thread count."""

import os
import subprocess
import sys

import numpy as np
import pytest

import rve_gen
from homog.cli import main
from homog.sca.interaction import interaction_parts
from kernels import get_backend, solve_elastic
from kernels import threads as policy
from kernels.tensors import isotropic_stiffness


def _python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (the wait policy is decided at import)."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_WAIT_POLICY", policy.ENV_VAR)}
    proc = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip() + proc.stderr.strip()


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "many", "0", "", "  "])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        policy.set_threads(bad)
    assert policy.get_threads() is None


def test_use_threads_restores_the_setting():
    with policy.use_threads(3):
        assert policy.get_threads() == 3
        with policy.use_threads("auto"):
            assert policy.get_threads() is None
        assert policy.get_threads() == 3
    assert policy.get_threads() is None


def test_small_jobs_run_on_one_thread_whatever_the_setting():
    small, large = policy.PARALLEL_ENTRIES - 1, policy.PARALLEL_ENTRIES
    with policy.use_threads(4):
        assert policy.threads_for(small) == 1
        assert policy.threads_for(large) == 4
    expected = policy.usable_cores() if policy.passive_wait() else 1
    assert policy.threads_for(large) == expected
    assert policy.threads_for(10, threshold=5) == expected


def test_blas_stays_on_one_thread_under_auto():
    """OpenBLAS threads spin; only an explicit setting gives BLAS more than one."""
    from threadpoolctl import threadpool_info

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    with policy.limit(2):
        assert blas() == {1}
    with policy.use_threads(2), policy.limit(2):
        assert blas() <= {2}


def test_limit_sets_and_restores_numba_threads():
    import numba

    before = numba.get_num_threads()
    with policy.limit(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_a_nested_limit_of_the_same_counts_sets_nothing(monkeypatch):
    """Inside limit(n), limit(n) leaves the pools alone (the online loop enters one per
    increment); another count, another thread or a changed setting still applies its own."""
    import threading

    import numba
    from threadpoolctl import threadpool_info

    def blas():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    queries = []
    pools = policy._pools
    monkeypatch.setattr(policy, "_pools", lambda: queries.append(1) or pools())
    with policy.limit(1):
        assert len(queries) == 1
        with policy.limit(1):
            assert len(queries) == 1 and numba.get_num_threads() == 1
        with policy.limit(2):  # another count: applied, and the outer one restored after
            assert len(queries) == 2 and numba.get_num_threads() == min(
                2, numba.config.NUMBA_NUM_THREADS)
            with policy.limit(1):
                assert len(queries) == 3 and numba.get_num_threads() == 1
        assert numba.get_num_threads() == 1
        with policy.use_threads(2), policy.limit(2):  # BLAS follows the explicit setting
            assert len(queries) == 4 and blas() <= {2}
        assert blas() == {1}
        seen = []

        def work():
            with policy.limit(1):
                seen.append((len(queries), numba.get_num_threads()))

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        assert seen == [(5, 1)]  # numba's count is per thread: another thread sets its own
    with policy.limit(1):
        assert len(queries) == 6  # outside any block: applied again


def test_importing_kernels_makes_openmp_pools_sleep():
    out = _python("import os, kernels.threads as t; "
                  "print(os.environ['OMP_WAIT_POLICY'], t.passive_wait())")
    assert out == "PASSIVE True"


def test_a_users_wait_policy_is_kept():
    out = _python("import os, kernels.threads as t; "
                  "print(os.environ['OMP_WAIT_POLICY'], t.passive_wait())",
                  OMP_WAIT_POLICY="active")
    assert out == "active False"


def test_openmp_loaded_first_means_one_thread_under_auto():
    """A runtime loaded before kernels spins: two pools must not take turns on it."""
    out = _python("import sklearn.cluster, kernels.threads as t; "
                  "print(t.passive_wait(), t.threads_for(10**9))")
    assert out == "False 1"


def test_environment_variable_sets_and_a_bad_one_warns():
    assert _python("import kernels.threads as t; print(t.get_threads())",
                   HOMOG_NUM_THREADS="3") == "3"
    out = _python("import kernels.threads as t; print(t.get_threads())",
                  HOMOG_NUM_THREADS="lots")
    assert out.startswith("None") and "HOMOG_NUM_THREADS = 'lots'" in out


def test_cli_refuses_a_bad_thread_count(capsys):
    assert main(["homogenize", "--example", "fibres", "--threads", "0"]) == 1
    assert "positive integer or 'auto'" in capsys.readouterr().err


def test_cli_refuses_an_empty_thread_count(capsys):
    """--threads= was taken for 'auto', which is spelled out."""
    assert main(["homogenize", "--example", "fibres", "--threads="]) == 1
    assert "--threads '': give a positive integer or 'auto'" in capsys.readouterr().err


def test_the_environment_warning_shows_no_library_line():
    """The warning printed threads.py's path and its line of code, as if the library erred."""
    out = _python("import homog", HOMOG_NUM_THREADS="lots")
    assert out.startswith("HOMOG_NUM_THREADS:0: RuntimeWarning: HOMOG_NUM_THREADS = 'lots'")
    assert "threads.py" not in out and "_from_environment" not in out
    assert out.count("\n") == 0  # one line: no source line under it
    assert _python("import kernels.threads as t; print(t.get_threads())",
                   HOMOG_NUM_THREADS="") == "None"  # an empty variable is an unset one


def test_elastic_solution_does_not_depend_on_threads():
    """The same CG iterates on 1 and 2 threads (FFTW, numba): equal fields to round-off."""
    labels = rve_gen.spheres(volume_fraction=0.2, radius=0.15, seed=1).voxelize((32,) * 3).labels
    stiffness = {0: isotropic_stiffness(1.0, 0.3), 1: isotropic_stiffness(50.0, 0.3)}
    load = [0.01, 0, 0, 0, 0, 0]
    one = solve_elastic(labels, stiffness, macro_strain=load,
                        backend=get_backend("pyfftw", threads=1))
    strain_one = one.strain.copy()
    two = solve_elastic(labels, stiffness, macro_strain=load,
                        backend=get_backend("pyfftw", threads=2))
    assert two.iterations == one.iterations
    assert np.max(np.abs(two.strain - strain_one)) < 1e-10


def test_interaction_tensors_do_not_depend_on_threads(monkeypatch):
    """The GEMMs split over Python threads sum the same products."""
    import homog.sca.interaction as interaction

    labels = np.random.default_rng(0).integers(0, 7, size=(40, 48))
    with policy.use_threads(1):
        D1, D2 = interaction_parts(labels, 7)
    # three workers and a small chunk, so that every worker sums several chunks
    monkeypatch.setattr(interaction, "_PRODUCT_BYTES", 7 * 8 * 64)
    monkeypatch.setattr(interaction, "_PRODUCT_COLUMNS", 2)
    E1, E2 = interaction._interaction_parts(labels, 7, None, "willot", get_backend("auto"), 3)
    np.testing.assert_allclose(E1, D1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(E2, D2, rtol=1e-12, atol=1e-14)
