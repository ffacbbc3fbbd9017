"""retrieve() from Python: steppers against numpy loops of their update rules, stop rules,
clamping, traces, progress callbacks and the flags of the result."""

import numpy as np
import pytest

import engram
import reference as ref

BETA = 3.0


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    P = rng.standard_normal((30, 10)) * 0.5
    X = P[:5] + 0.15 * rng.standard_normal((5, 10))
    return P, X


def grad(P, X):
    return ref.lse(P, X, BETA)[1]


# Several steps of float64 arithmetic in a different order than numpy: agreement to 1e-9.
TOL = dict(rtol=1e-9, atol=1e-11)


def test_gradient_descent_is_the_euler_step(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    r = engram.retrieve(energy, X, engram.GradientDescent(step=0.3), engram.stop.after(4))
    x = X.copy()
    for _ in range(4):
        x = x - 0.3 * grad(P, x)
    np.testing.assert_allclose(r.states, x, **TOL)
    np.testing.assert_allclose(r.energies, ref.lse(P, x, BETA)[0], **TOL)
    assert r.steps.tolist() == [4] * 5 and r.steps.dtype == np.int64
    assert not r.converged.any() and not r.all_converged  # halted by the limit
    assert not r.unsupported.any() and not r.diverged.any()
    assert r.energy_trace is None


def test_momentum_is_the_heavy_ball_step(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    r = engram.retrieve(
        energy, X, engram.Momentum(step=0.2, coefficient=0.5), engram.stop.after(3)
    )
    x, v = X.copy(), np.zeros_like(X)
    for _ in range(3):
        v = 0.5 * v - 0.2 * grad(P, x)
        x = x + v
    np.testing.assert_allclose(r.states, x, **TOL)


def test_rk4_is_the_classic_runge_kutta_step(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    r = engram.retrieve(energy, X, engram.RK4(step=0.25), engram.stop.after(2))
    x, h = X.copy(), 0.25
    for _ in range(2):
        k1 = -grad(P, x)
        k2 = -grad(P, x + h / 2 * k1)
        k3 = -grad(P, x + h / 2 * k2)
        k4 = -grad(P, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    np.testing.assert_allclose(r.states, x, **TOL)


def test_descent_never_raises_the_energy_and_settles(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    # Dormand-Prince at its default tolerances (1e-6) stalls near |grad| ~ 1e-6, where its
    # error estimate is rounding: tighter tolerances let it reach 1e-7.
    tight = engram.DormandPrince(abs_tolerance=1e-10, rel_tolerance=1e-10)
    for stepper in [engram.GradientDescent(0.1), engram.RK4(0.1), tight]:
        r = engram.retrieve(
            energy,
            X,
            stepper,
            engram.stop.gradient_norm(1e-7) | engram.stop.after(5000),
            record_trace=True,
        )
        assert r.all_converged, stepper
        trace = r.energy_trace
        assert trace.shape[1] == 5 and trace.shape[0] == r.steps.max() + 1
        np.testing.assert_allclose(trace[0], energy.value(X), **TOL)
        # Energies never rise (up to float64 rounding of E, about 1e-15 relative).
        assert np.all(np.diff(trace, axis=0) <= 1e-12)
        np.testing.assert_allclose(np.linalg.norm(grad(P, r.states), axis=1), 0, atol=1e-7)


def test_centroid_iteration_lands_on_stored_patterns_exactly():
    rng = np.random.default_rng(5)
    P = rng.standard_normal((50, 6))
    d = np.sqrt(ref.sq_dist(P, P) + np.diag(np.full(50, np.inf)))
    r_min = d.min()
    delta = 0.4 * r_min
    beta = 2.0 / (r_min - delta) ** 2  # [LSR]: queries within delta land in one step
    lsr = engram.LSR(engram.DenseMemory(P), beta=beta)
    noise = rng.standard_normal((50, 6))
    X = P + 0.9 * delta * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    r = engram.retrieve(
        lsr, X, engram.CentroidIteration(), engram.stop.fixed_point() | engram.stop.after(10)
    )
    np.testing.assert_array_equal(r.states, P)  # bit for bit
    assert r.all_converged and r.steps.tolist() == [2] * 50  # one move, one step to confirm


def test_unsupported_states_stop_with_the_flag():
    P = np.array([[0.0, 0.0], [3.0, 0.0]])
    lsr = engram.LSR(engram.DenseMemory(P), beta=2.0)  # radius 1
    X = np.array([[0.2, 0.0], [10.0, 10.0]])
    r = engram.retrieve(lsr, X, engram.GradientDescent(0.1), engram.stop.after(50))
    assert r.unsupported.tolist() == [False, True]
    assert np.isinf(r.energies[1])
    np.testing.assert_array_equal(r.states[1], X[1])


def test_a_too_large_step_diverges_one_sample_and_keeps_it_finite():
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    energy = engram.Power(engram.DenseMemory(P), n=4)
    # E = -sum <xi, x>^4 is unbounded below: the origin is a critical point and stays put,
    # while a state far out runs off to infinity within a few steps.
    X = np.array([[0.0, 0.0], [1e3, 0.0]])
    r = engram.retrieve(energy, X, engram.GradientDescent(1.0), engram.stop.after(20))
    assert r.diverged.tolist() == [False, True]
    assert np.all(np.isfinite(r.states))


def test_clamped_coordinates_never_move(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    shared = np.zeros(10, bool)
    shared[:4] = True
    r = engram.retrieve(
        energy, X, engram.GradientDescent(0.3), engram.stop.after(3), clamp=shared
    )
    np.testing.assert_array_equal(r.states[:, :4], X[:, :4])
    x = X.copy()
    for _ in range(3):
        g = grad(P, x)
        g[:, :4] = 0
        x = x - 0.3 * g
    np.testing.assert_allclose(r.states, x, **TOL)
    per_sample = np.zeros((5, 10), bool)
    per_sample[2, 7] = True
    r = engram.retrieve(
        energy, X, engram.GradientDescent(0.3), engram.stop.after(3), clamp=per_sample
    )
    assert r.states[2, 7] == X[2, 7] and r.states[1, 7] != X[1, 7]
    with pytest.raises(ValueError, match=r"clamp has shape \(3,\)"):
        engram.retrieve(energy, X, engram.GradientDescent(), engram.stop.after(1),
                        clamp=np.zeros(3, bool))
    with pytest.raises(TypeError, match="bool"):
        engram.retrieve(energy, X, engram.GradientDescent(), engram.stop.after(1),
                        clamp=np.zeros(10))


def test_stop_rules_combine_as_in_cpp(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    rule = engram.stop.energy_change(1e-9) | engram.stop.after(10000)
    assert rule.bounded and repr(rule) == "(stop.energy_change(1e-09) | stop.after(10000))"
    r = engram.retrieve(energy, X, engram.GradientDescent(0.2), rule, record_trace=True)
    assert r.all_converged
    t = r.energy_trace
    for b in range(5):
        s = r.steps[b]
        assert abs(t[s, b] - t[s - 1, b]) < 1e-9  # stopped at the first small change
        assert np.all(np.abs(np.diff(t[: s, b])) >= 1e-9)
    # & needs both: the state change must be small too.
    both = (engram.stop.energy_change(1e-9) & engram.stop.state_change(1e-12)) | \
        engram.stop.after(10000)
    r2 = engram.retrieve(energy, X, engram.GradientDescent(0.2), both)
    assert np.all(r2.steps >= r.steps)
    assert not (engram.stop.gradient_norm(1e-3) & engram.stop.after(5)).bounded


def test_unbounded_or_invalid_rules_are_refused(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    for rule in [engram.stop.gradient_norm(1e-3),
                 engram.stop.fixed_point() & engram.stop.after(3) | engram.stop.state_change(1)]:
        assert not rule.bounded
        with pytest.raises(ValueError, match="no step limit"):
            engram.retrieve(energy, X, engram.GradientDescent(), rule)
    with pytest.raises(ValueError, match="eps"):
        engram.stop.energy_change(-1.0)
    with pytest.raises(ValueError, match="steps"):
        engram.stop.after(-2)
    with pytest.raises(ValueError, match="momentum.coefficient is 1"):
        engram.retrieve(energy, X, engram.Momentum(0.1, 1.0), engram.stop.after(3))
    with pytest.raises(ValueError, match="CentroidIteration"):
        engram.retrieve(energy, X, engram.CentroidIteration(), engram.stop.after(3))
    with pytest.raises(TypeError):
        engram.retrieve(energy, X, "gradient descent", engram.stop.after(3))


def test_progress_callbacks_see_every_step_and_can_abort(data):
    P, X = data
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    seen = []
    engram.retrieve(energy, X, engram.GradientDescent(0.1), engram.stop.after(7),
                    progress=lambda p: seen.append((p.step, p.active, p.batch)))
    assert [s[0] for s in seen] == list(range(1, 8)) and all(s[2] == 5 for s in seen)

    class Abort(Exception):
        pass

    def abort(p):
        if p.step == 3:
            raise Abort("enough")

    with pytest.raises(Abort, match="enough"):
        engram.retrieve(energy, X, engram.GradientDescent(0.1), engram.stop.after(100),
                        progress=abort)
    # The energy is usable after an aborted retrieval.
    np.testing.assert_allclose(energy.value(X), ref.lse(P, X, BETA)[0], **TOL)


def test_a_memory_changed_from_a_callback_is_reported(data):
    P, X = data
    memory = engram.DenseMemory(P)
    energy = engram.LSE(memory, beta=BETA)

    def grow(p):
        memory.add(P[:1])

    with pytest.raises(RuntimeError, match="DenseMemory.add would change the memory"):
        engram.retrieve(energy, X, engram.GradientDescent(0.1), engram.stop.after(5),
                        progress=grow)
    assert len(memory) == 30  # refused before anything changed


def test_float32_retrieval_returns_float32(data):
    P, X = (a.astype(np.float32) for a in data)
    energy = engram.LSE(engram.DenseMemory(P), beta=BETA)
    r = engram.retrieve(energy, X, engram.GradientDescent(0.5),
                        engram.stop.gradient_norm(1e-4) | engram.stop.after(1000))
    assert r.states.dtype == np.float32 and r.energies.dtype == np.float32
    assert r.all_converged
    r64 = engram.retrieve(engram.LSE(engram.DenseMemory(P, dtype="float64"), beta=BETA),
                          X, engram.GradientDescent(0.5),
                          engram.stop.gradient_norm(1e-4) | engram.stop.after(1000))
    # Both descend to the same minimum: float32 holds it to ~1e-6 relative of |x| ~ 1.
    np.testing.assert_allclose(r.states, r64.states, atol=1e-4)
