"""Random features, distributed memories and DrDAM from Python against numpy formulas."""

import numpy as np
import pytest

import engram
import reference as ref

MAPS = ["cos", "sincos", "exp", "exp_exp"]
# float64 throughout: engram streams omega in tiles and sums in another order than numpy;
# 1e-9 relative is far above that rounding and far below any formula mistake.
TOL = dict(rtol=1e-9, atol=1e-12)


def features(name, omega, bias, beta, X):
    """phi(x) for each row of X, from the formulas in SCIENCE.md (section 3)."""
    Y = omega.shape[0]
    h = np.sqrt(beta) * X @ omega.T  # (B, Y)
    n = beta * (X * X).sum(1, keepdims=True)
    if name == "cos":
        return np.sqrt(2.0 / Y) * np.cos(h + bias)
    if name == "sincos":
        return np.hstack([np.cos(h), np.sin(h)]) / np.sqrt(Y)
    if name == "exp":
        return np.exp(h - n) / np.sqrt(Y)
    return np.hstack([np.exp(h - n), np.exp(-h - n)]) / np.sqrt(2 * Y)


def jacobian(name, omega, bias, beta, x):
    """d phi / dx at one state x: (F, D)."""
    Y = omega.shape[0]
    h = np.sqrt(beta) * omega @ x
    dh = np.sqrt(beta) * omega  # (Y, D)
    if name == "cos":
        return -np.sqrt(2.0 / Y) * np.sin(h + bias)[:, None] * dh
    if name == "sincos":
        return np.vstack([-np.sin(h)[:, None] * dh, np.cos(h)[:, None] * dh]) / np.sqrt(Y)
    phi = features(name, omega, bias, beta, x[None])[0]
    if name == "exp":
        return phi[:, None] * (dh - 2 * beta * x[None, :])
    return phi[:, None] * (np.vstack([dh, -dh]) - 2 * beta * x[None, :])


@pytest.fixture
def data():
    rng = np.random.default_rng(21)
    P = rng.standard_normal((15, 6)) * 0.4
    X = P[:4] + 0.1 * rng.standard_normal((4, 6))
    return P, X


@pytest.mark.parametrize("name", MAPS)
def test_features_follow_the_formula(data, name):
    P, X = data
    phi = engram.RandomFeatures(6, 300, beta=2.0, seed=5, map=name, dtype="float64")
    assert (phi.dim, phi.count, phi.map, phi.dtype) == (6, 300, name, "float64")
    assert phi.size == (600 if name in ("sincos", "exp_exp") else 300)
    omega, bias = phi.omega, phi.bias
    assert omega.shape == (300, 6) and bias.shape == (300,)
    np.testing.assert_allclose(phi.features(X), features(name, omega, bias, 2.0, X), **TOL)
    W = np.random.default_rng(1).standard_normal((4, phi.size))
    expected = np.stack([jacobian(name, omega, bias, 2.0, X[b]).T @ W[b] for b in range(4)])
    np.testing.assert_allclose(phi.jacobian_transpose(X, W), expected, **TOL)


def test_stored_and_regenerated_directions_are_the_same(data):
    P, X = data
    stored = engram.RandomFeatures(6, 1000, 1.5, seed=9, dtype="float64")
    regenerated = engram.RandomFeatures(6, 1000, 1.5, seed=9, storage="on_demand", dtype="float64")
    np.testing.assert_array_equal(stored.omega, regenerated.omega)
    np.testing.assert_allclose(stored.features(X), regenerated.features(X), **TOL)
    single = engram.RandomFeatures(6, 1000, 1.5, seed=9)
    assert single.dtype == "float32"
    # One seed, the same directions in float and double (float Box-Muller draws).
    np.testing.assert_array_equal(single.omega.astype(np.float64), stored.omega)


def test_the_kernel_is_approximated(data):
    P, _ = data
    phi = engram.RandomFeatures(6, 20000, 1.0, seed=3, dtype="float64")
    F = phi.features(P)
    K = np.exp(-0.5 * ref.sq_dist(P, P))
    # Monte Carlo with Y = 20000 sincos directions: standard error ~ 1/sqrt(2Y) = 0.005 per
    # entry; 0.03 is six of them.
    np.testing.assert_allclose(F @ F.T, K, atol=0.03)
    c1 = engram.kernel_error_constant(phi, P, P)
    assert c1 == pytest.approx(np.abs(K - F @ F.T).max() * np.sqrt(20000 / 6), rel=1e-9)


@pytest.mark.parametrize("name", ["cos", "sincos"])
def test_a_user_omega_gives_exactly_its_features(data, name):
    P, X = data
    rng = np.random.default_rng(4)
    omega = rng.standard_normal((50, 6))
    bias = rng.uniform(0, 2 * np.pi, 50) if name == "cos" else None
    phi = engram.RandomFeatures.from_omega(omega, beta=3.0, bias=bias, map=name)
    np.testing.assert_array_equal(phi.omega, omega)
    expected = features(name, omega, bias if bias is not None else np.zeros(50), 3.0, X)
    np.testing.assert_allclose(phi.features(X), expected, **TOL)
    assert engram.RandomFeatures.from_omega(omega.astype(np.float32), 3.0).dtype == "float32"
    with pytest.raises(ValueError, match="bias has 3 entries"):
        engram.RandomFeatures.from_omega(omega, 3.0, bias=np.zeros(3))
    with pytest.raises(FloatingPointError):
        engram.RandomFeatures.from_omega(np.full((2, 6), np.nan), 3.0)


@pytest.mark.parametrize("name", MAPS)
def test_drdam_energy_and_gradient_follow_the_formulas(data, name):
    P, X = data
    phi = engram.RandomFeatures(6, 400, beta=2.0, seed=8, map=name, dtype="float64")
    memory = engram.DistributedMemory(phi, P, keep_readout=True)
    assert len(memory) == 15 and memory.dim == 6 and memory.dtype == "float64"
    omega, bias = phi.omega, phi.bias
    T = features(name, omega, bias, 2.0, P).sum(0)
    R = features(name, omega, bias, 2.0, P).T @ P
    np.testing.assert_allclose(memory.tensor, T, **TOL)
    np.testing.assert_allclose(memory.readout, R, **TOL)
    drdam = engram.DrDAM(memory)
    assert drdam.beta == 2.0
    fx = features(name, omega, bias, 2.0, X)
    s = fx @ T
    assert np.all(s > 1e-5)
    e, g = drdam.value_and_gradient(X)
    np.testing.assert_allclose(e, -np.log(s) / 2.0, **TOL)
    expected = np.stack(
        [-(jacobian(name, omega, bias, 2.0, X[b]).T @ T) / (2.0 * s[b]) for b in range(4)]
    )
    np.testing.assert_allclose(g, expected, **TOL)
    np.testing.assert_allclose(drdam.readout_gradient(X), X - (fx @ R) / s[:, None], **TOL)
    # The gradient is the derivative of the energy (central differences, h = 1e-6).
    fd = ref.central_difference(drdam.value, X, 1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)


def test_drdam_tracks_lse_and_retrieves(data):
    P, X = data
    beta = 2.0
    phi = engram.RandomFeatures(6, 40000, beta, seed=2, dtype="float64")
    drdam = engram.DrDAM(engram.DistributedMemory(phi, P))
    lse = engram.LSE(engram.DenseMemory(P), beta=beta)
    e_lse, g_lse = lse.value_and_gradient(X)
    e_dr, g_dr = drdam.value_and_gradient(X)
    # [DrDAM]: the features estimate sum_mu exp(-beta/2 ||x - xi_mu||^2) with relative error
    # about 1/sqrt(Y) times the spread of the terms; at Y = 40000 energies agree to ~1e-2.
    np.testing.assert_allclose(e_dr, e_lse, atol=0.05)
    np.testing.assert_allclose(g_dr, g_lse, atol=0.1)
    r = engram.retrieve(drdam, X, engram.GradientDescent(0.1), engram.stop.after(50),
                        record_trace=True)
    assert np.all(np.diff(r.energy_trace, axis=0) <= 1e-12)


def test_distributed_memory_add_remove_and_progress(data):
    P, X = data
    phi = engram.RandomFeatures(6, 256, 1.0, seed=1, dtype="float64")
    whole = engram.DistributedMemory(phi, P)
    seen = []
    grown = engram.DistributedMemory(phi)
    assert len(grown) == 0 and grown.readout is None
    grown.add(P[:10], progress=lambda p: seen.append((p.done, p.total)))
    grown.add(P[10:])
    assert seen[-1] == (10, 10) and len(grown) == 15
    np.testing.assert_allclose(grown.tensor, whole.tensor, **TOL)
    drdam = engram.DrDAM(grown)
    grown.remove(P[10:])
    np.testing.assert_allclose(
        drdam.value(X), engram.DrDAM(engram.DistributedMemory(phi, P[:10])).value(X), **TOL
    )
    with pytest.raises(ValueError, match="removing 30 patterns from a memory that holds 10"):
        grown.remove(np.vstack([P, P]))
    with pytest.raises(ValueError, match="readout"):
        drdam.readout_gradient(X)


def test_bad_feature_arguments_are_refused():
    with pytest.raises(ValueError, match="map is 'tan'"):
        engram.RandomFeatures(4, 10, 1.0, seed=0, map="tan")
    with pytest.raises(ValueError, match="storage is 'lazy'"):
        engram.RandomFeatures(4, 10, 1.0, seed=0, storage="lazy")
    with pytest.raises(ValueError, match="beta"):
        engram.RandomFeatures(4, 10, -1.0, seed=0)
    with pytest.raises(ValueError, match="Y is 0"):
        engram.RandomFeatures(4, 0, 1.0, seed=0)
    phi = engram.RandomFeatures(4, 10, 1.0, seed=0, map="exp", dtype="float64")
    with pytest.raises(ValueError, match="beta"):
        engram.DistributedMemory(phi, np.full((1, 4), 100.0))  # exp(-beta |x|^2) underflows
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        engram.DistributedMemory(phi, np.zeros((2, 3)))
