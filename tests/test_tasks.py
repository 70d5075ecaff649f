"""Task generators: ranges, signs, and the laws they compute."""

import numpy as np
import pytest

from calu_np.tasks import EXTRAPOLATION, INTERPOLATION, TASKS, get_task, minkowski_dot


@pytest.mark.parametrize("name", [name for name in TASKS if name != "lorentz"])
def test_input_ranges_and_signs(name):
    task = get_task(name)
    rng = np.random.default_rng(0)
    x_in, _ = task.sample(rng, 4000, "interpolation")
    x_out, _ = task.sample(rng, 4000, "extrapolation")
    assert np.all(np.abs(x_in) >= INTERPOLATION[0])
    assert np.all(np.abs(x_in) <= INTERPOLATION[1])
    assert np.all(np.abs(x_out) >= EXTRAPOLATION[0])
    assert np.all(np.abs(x_out) <= EXTRAPOLATION[1])
    assert np.any(x_in < 0)
    assert np.any(x_out < 0)


def test_extrapolation_reaches_ten_times_training():
    assert EXTRAPOLATION[1] >= 10 * INTERPOLATION[1]
    assert EXTRAPOLATION[0] >= INTERPOLATION[1]


@pytest.mark.parametrize("region", ["interpolation", "extrapolation"])
def test_lorentz_vectors_are_physical(region):
    task = get_task("lorentz")
    x, t = task.sample(np.random.default_rng(1), 3000, region)
    for p in (x[:, :4], x[:, 4:]):
        assert np.all(p[:, 0] >= np.linalg.norm(p[:, 1:], axis=1))
        assert np.all(minkowski_dot(p, p) >= -1e-9 * p[:, 0] ** 2)
    np.testing.assert_allclose(t[:, 1], minkowski_dot(x[:, :4], x[:, 4:]))


def test_laws_on_known_inputs():
    x = np.array([[2.0, -4.0]])
    assert get_task("add").law(x)[0, 0] == -2.0
    assert get_task("sub").law(x)[0, 0] == 6.0
    assert get_task("mul").law(x)[0, 0] == -8.0
    assert get_task("div").law(x)[0, 0] == -0.5
    multinomial = get_task("multinomial").law(np.array([[1.0, 2.0, -0.5]]))
    np.testing.assert_allclose(multinomial[0], [1.0, 2.5, 6.25, 15.625])


def test_unknown_region_rejected():
    with pytest.raises(ValueError, match="unknown region"):
        get_task("add").sample(np.random.default_rng(0), 3, "outside")


def test_unknown_task_rejected():
    with pytest.raises(ValueError, match="unknown task 'pow'"):
        get_task("pow")
