"""Runs to failure and toughness metrics, with the DNS and the ROM."""

import numpy as np
import pytest
from test_materials_damage import drive

from homog.dns import dns
from homog.failure import PrePeakDivergence, failure_metrics, run_to_failure
from homog.loading import uniaxial_stress
from homog.materials import LinearHardening, VonMises, VonMisesDamage
from homog.response import Response
from homog.sca.model import build_rom
from kernels import ConvergenceError

E, NU, SY = 100.0, 0.3, 0.5
CUBE = np.zeros((2, 2, 2), dtype=np.int32)  # homogeneous 3D RVE: true uniaxial stress


def damage_material(**kwargs):
    return VonMisesDamage(E, NU, LinearHardening(SY, 1.0), onset=0.01, fracture_energy=2e-3,
                          **kwargs)


def history(strain11, stress11):
    strain, stress = np.zeros((len(strain11), 6)), np.zeros((len(stress11), 6))
    strain[:, 0], stress[:, 0] = strain11, stress11
    return Response(strain, stress, np.ones(len(strain11) - 1, dtype=int))


def test_metrics_of_a_piecewise_linear_curve():
    r = history([0.0, 0.01, 0.02, 0.03, 0.04], [0.0, 1.0, 1.2, 0.8, 0.2])
    m = failure_metrics(r)
    # crossing of 0.6 at a third of the last increment; trapezoids up to there
    assert m.failed and m.failure_mode == "drop" and m.measure == 0
    assert m.peak_stress == 1.2 and m.strain_at_peak == 0.02
    assert m.failure_strain == pytest.approx(0.03 + 0.01 / 3, rel=1e-12)
    assert m.toughness == pytest.approx(0.026 + 0.5 * (0.8 + 0.6) * 0.01 / 3, rel=1e-12)
    assert m.initial_stiffness == pytest.approx(100.0)
    assert m.peaked
    # compression reads the same; a later drop threshold fails later
    flipped = Response(-r.strain, -r.stress, r.iterations)
    assert failure_metrics(flipped).to_dict() == pytest.approx(m.to_dict())
    assert failure_metrics(r, drop=0.2).failure_strain == pytest.approx(0.03 + 0.01 * 0.56 / 0.6)
    unfailed = failure_metrics(history([0.0, 0.01, 0.02], [0.0, 1.0, 1.1]))
    assert not unfailed.failed and np.isnan(unfailed.failure_strain)
    assert unfailed.toughness == pytest.approx(0.005 + 0.0105)
    # still rising at the end: the peak is not reached; past a peak, short of the drop: it is
    assert not unfailed.peaked and unfailed.peak_stress == 1.1
    softened = failure_metrics(history([0.0, 0.01, 0.02, 0.03], [0.0, 1.0, 1.1, 0.9]))
    assert softened.peaked and not softened.failed and softened.peak_stress == 1.1


@pytest.mark.parametrize("solver", ["dns", "rom"])
def test_toughness_of_elastic_perfectly_plastic_rve_matches_closed_form(solver):
    """Uniaxial stress to ε_max: W = σ_y ε_max − σ_y²/(2E) (yield at an increment end)."""
    material = {0: VonMises(E, NU, LinearHardening(SY))}
    path = uniaxial_stress(0.05, 10)
    if solver == "dns":
        r = run_to_failure(CUBE, path, materials=material, backend="scipy", tol=1e-10)
    else:
        r = run_to_failure(build_rom(CUBE, material, {0: 1}, backend="scipy"), path)
    m = failure_metrics(r)
    assert not m.failed and r.nsteps == 10
    assert m.toughness == pytest.approx(SY * 0.05 - SY**2 / (2 * E), rel=1e-8)
    assert m.peak_stress == pytest.approx(SY, rel=1e-8)
    assert m.initial_stiffness == pytest.approx(E, rel=1e-8)


@pytest.mark.parametrize(("solver", "h"), [("dns", 0.5), ("rom", 1.0)])
def test_homogeneous_rve_runs_to_failure_on_the_material_point_curve(solver, h):
    """The DNS hands each voxel its size (1/2 here), the ROM each cluster its length (one
    cluster: the RVE edge): both follow the single point with that element length."""
    material = damage_material()
    path = uniaxial_stress(0.2, 100)
    if solver == "dns":
        r = run_to_failure(CUBE, path, materials={0: material}, backend="scipy", tol=1e-10)
    else:
        r = run_to_failure(build_rom(CUBE, {0: material}, {0: 1}, backend="scipy"), path)
    point = drive(material, path, material.initial_state(1, element_length=h))
    rows = r.nsteps + 1
    np.testing.assert_allclose(r.stress, point["stress"][:rows], atol=1e-8)
    np.testing.assert_allclose(r.strain, point["strain"][:rows], atol=1e-9)
    # it stopped at the first increment below half the peak, past the peak
    stress = r.stress[:, 0]
    assert r.info["stopped"] == "stop" and r.nsteps < 100
    assert stress[-1] < 0.5 * stress.max() <= stress[-2]
    m = failure_metrics(r)
    assert m.failed and m.strain_at_peak < m.failure_strain <= r.strain[-1, 0]


class ScriptedModel:
    """A stand-in ROM whose run returns a given history, as a truncated run would."""

    def __init__(self, stress11, stopped):
        self.stress11, self.stopped = stress11, stopped

    def run(self, loading, *, stop, failure):
        assert failure == "truncate" and not stop(np.zeros((2, 6)), np.zeros((2, 6)))
        r = history(0.01 * np.arange(len(self.stress11)), self.stress11)
        r.info.update({"stopped": self.stopped, "error": "increment did not converge"})
        return r


def test_divergence_past_the_peak_is_failure_and_before_it_an_error():
    path = uniaxial_stress(0.1, 10)
    r = run_to_failure(ScriptedModel([0.0, 1.0, 1.2, 1.1], "diverged"), path)
    m = failure_metrics(r)
    assert m.failed and m.failure_mode == "diverged" and m.failure_strain == 0.03
    with pytest.raises(PrePeakDivergence, match="before the stress peaked") as info:
        run_to_failure(ScriptedModel([0.0, 1.0, 1.2], "diverged"), path)
    assert isinstance(info.value, ConvergenceError) and info.value.response.nsteps == 2


def test_dns_stop_and_truncate_keywords():
    material = {0: VonMises(E, NU, LinearHardening(SY))}
    r = dns(CUBE, material, uniaxial_stress(0.02, 8), backend="scipy",
            stop=lambda strain, stress: strain.shape[0] == 4)
    assert r.nsteps == 3 and r.info["stopped"] == "stop" and r.strain[-1, 0] == 0.0075
    r = dns(CUBE, material, uniaxial_stress(0.02, 8), backend="scipy", max_iterations=2,
            max_cuts=0, failure="truncate")
    assert r.info["stopped"] == "diverged" and "did not converge" in r.info["error"]
    assert r.nsteps == 2  # the elastic increments converge, the first plastic one does not
    assert r.strain.shape == (3, 6) and r.strain[-1, 0] == 0.005
    with pytest.raises(ConvergenceError):
        dns(CUBE, material, uniaxial_stress(0.02, 8), backend="scipy", max_iterations=1,
            max_cuts=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"drop": 1.0}, "drop"),
        ({"drop": True}, "drop"),
        ({"measure": 6}, "Mandel component"),
        ({"measure": "tresca"}, "von_mises"),
        ({"materials": None}, "needs materials"),
        ({"stop": None}, "sets 'stop' itself"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    kwargs = {"materials": {0: damage_material()}} | kwargs
    with pytest.raises(ValueError, match=match):
        run_to_failure(CUBE, uniaxial_stress(0.1, 10), **kwargs)
    with pytest.raises(ValueError, match="LoadPath"):
        run_to_failure(CUBE, [0.1], materials={0: damage_material()})
    with pytest.raises(ValueError, match="failure"):
        dns(CUBE, {0: damage_material()}, uniaxial_stress(0.1, 10), failure="ignore")


def test_runs_to_failure_refuse_a_path_that_unloads():
    """An unloading makes the stress fall too: a cyclic path would report a failure that
    never happened (found on `homog run --load cyclic --to-failure`)."""
    from oracles import disc_labels

    from homog.loading import cyclic
    from homog.materials import reference_materials

    rom = build_rom(disc_labels(12, 0.3), reference_materials(), {0: 2, 1: 1}, adaptive=None)
    with pytest.raises(ValueError, match="reverses component 11 at increment 6"):
        run_to_failure(rom, cyclic(0.02, cycles=1, steps=5))
