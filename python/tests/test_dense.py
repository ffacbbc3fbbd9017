"""Dense energies from Python against the numpy formulas of reference.py."""

import numpy as np
import pytest

import engram
import reference as ref

# float64: engram and numpy sum the same terms in different orders (tiles, a running max), so
# they agree to a few hundred ulps of the largest term, far below 1e-9 relative.
RTOL64, ATOL64 = 1e-9, 1e-11
# float32 in engram against float64 numpy on the same float32 inputs: float32 rounding of K = 40
# terms and of exp/log, about 1e-6 relative; 2e-5 leaves room without hiding a wrong formula
# (every formula mistake tried below moved results by more than 1e-2).
RTOL32, ATOL32 = 2e-5, 2e-5


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    P = rng.standard_normal((40, 12)) * 0.5
    X = P[:6] + 0.2 * rng.standard_normal((6, 12))
    return P, X


CASES = [
    ("LSE", lambda m: engram.LSE(m, beta=3.0), lambda P, X: ref.lse(P, X, 3.0)),
    ("LSEDot", lambda m: engram.LSEDot(m, beta=2.0), lambda P, X: ref.lse_dot(P, X, 2.0)),
    (
        "LinearGaussian",
        lambda m: engram.LinearGaussian(m, beta=3.0),
        lambda P, X: ref.linear_gaussian(P, X, 3.0),
    ),
    (
        "LinearExpDot",
        lambda m: engram.LinearExpDot(m, beta=0.5),
        lambda P, X: ref.linear_exp_dot(P, X, 0.5),
    ),
    (
        "NormalizedLSE",
        lambda m: engram.NormalizedLSE(m, beta=4.0),
        lambda P, X: ref.normalized_lse(P, X, 4.0),
    ),
    (
        "LSR",
        lambda m: engram.LSR(m, beta=0.5, eps=1e-3),
        lambda P, X: ref.lsr(P, X, 0.5, 1e-3),
    ),
    (
        "Hybrid",
        lambda m: engram.Hybrid(m, beta=0.5, eps=1e-2, lse_beta=2.0, weight=0.7),
        lambda P, X: ref.hybrid(P, X, 0.5, 1e-2, 2.0, 0.7),
    ),
    ("Power2", lambda m: engram.Power(m, n=2), lambda P, X: ref.power(P, X, 2, False)),
    ("Power3", lambda m: engram.Power(m, n=3), lambda P, X: ref.power(P, X, 3, False)),
    ("Power4", lambda m: engram.Power(m, n=4), lambda P, X: ref.power(P, X, 4, False)),
    (
        "RectifiedPower3",
        lambda m: engram.Power(m, n=3, rectified=True),
        lambda P, X: ref.power(P, X, 3, True),
    ),
]


@pytest.mark.parametrize("name,make,formula", CASES, ids=[c[0] for c in CASES])
def test_energy_matches_formula_float64(data, name, make, formula):
    P, X = data
    energy = make(engram.DenseMemory(P))
    assert energy.dtype == "float64" and energy.dim == 12
    e_ref, g_ref = formula(P, X)
    e, g = energy.value_and_gradient(X)
    assert e.dtype == np.float64 and e.shape == (6,) and g.shape == (6, 12)
    np.testing.assert_allclose(e, e_ref, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_allclose(g, g_ref, rtol=RTOL64, atol=ATOL64)
    np.testing.assert_array_equal(energy.value(X), e)
    np.testing.assert_array_equal(energy.gradient(X), g)


@pytest.mark.parametrize("name,make,formula", CASES, ids=[c[0] for c in CASES])
def test_energy_matches_formula_float32(data, name, make, formula):
    P, X = (a.astype(np.float32) for a in data)
    energy = make(engram.DenseMemory(P))
    assert energy.dtype == "float32"
    e_ref, g_ref = formula(P.astype(np.float64), X.astype(np.float64))
    e, g = energy.value_and_gradient(X)
    assert e.dtype == np.float32 and g.dtype == np.float32
    scale = max(1.0, np.abs(e_ref).max())
    np.testing.assert_allclose(e, e_ref, rtol=RTOL32, atol=ATOL32 * scale)
    np.testing.assert_allclose(g, g_ref, rtol=RTOL32, atol=ATOL32 * np.abs(g_ref).max())


@pytest.mark.parametrize("name,make,formula", CASES, ids=[c[0] for c in CASES])
def test_gradient_is_the_derivative_of_the_value(data, name, make, formula):
    P, X = data
    energy = make(engram.DenseMemory(P))
    h = 1e-6
    # Central differences in float64 with h = 1e-6: truncation O(h^2 |E'''|) ~ 1e-12 and
    # rounding ~ 1e-16 |E| / h ~ 1e-10 relative to the gradient's scale.
    fd = ref.central_difference(energy.value, X, h)
    g = energy.gradient(X)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(g).max()))


def test_lsr_supports_and_unsupported_states():
    P = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    lsr = engram.LSR(engram.DenseMemory(P), beta=2.0)  # radius sqrt(2 / 2) = 1
    assert lsr.support_radius == pytest.approx(1.0)
    X = np.array([[0.5, 0.0], [5.0, 5.2], [20.0, 20.0]])
    supports = lsr.supports(X)
    assert [s.tolist() for s in supports] == [[0, 1], [2], []]
    assert all(s.dtype == np.int64 for s in supports)
    e, g = lsr.value_and_gradient(X)
    assert np.isinf(e[2]) and e[2] > 0 and np.all(g[2] == 0)
    e_ref, g_ref = ref.lsr(P, X, 2.0, 0.0)
    np.testing.assert_allclose(e[:2], e_ref[:2], rtol=RTOL64)
    np.testing.assert_allclose(g, g_ref, rtol=RTOL64, atol=ATOL64)


@pytest.mark.parametrize("support", ["automatic", "kd_tree", "brute_force"])
def test_lsr_support_methods_give_the_same_energies(data, support):
    P, X = data
    reference = engram.LSR(engram.DenseMemory(P), beta=0.5, support="brute_force").value(X)
    np.testing.assert_array_equal(
        engram.LSR(engram.DenseMemory(P), beta=0.5, support=support).value(X), reference
    )


def test_memory_changes_reach_its_energies(data):
    P, X = data
    memory = engram.DenseMemory(P[:30])
    energy = engram.LSE(memory, beta=3.0)
    assert memory.add(P[30:]) == 30
    assert len(memory) == memory.size == 40 and memory.dim == 12
    np.testing.assert_allclose(energy.value(X), ref.lse(P, X, 3.0)[0], rtol=RTOL64, atol=ATOL64)
    memory.remove([0, 39])
    kept = P[1:39]
    np.testing.assert_array_equal(memory.patterns, kept)
    np.testing.assert_allclose(
        energy.value(X), ref.lse(kept, X, 3.0)[0], rtol=RTOL64, atol=ATOL64
    )


def test_energy_keeps_its_memory_alive(data):
    import gc

    P, X = data
    memory = engram.DenseMemory(P)
    energy = engram.LSE(memory, beta=3.0)
    del memory
    gc.collect()
    np.testing.assert_allclose(energy.value(X), ref.lse(P, X, 3.0)[0], rtol=RTOL64, atol=ATOL64)


def test_memory_dtype_rule():
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    assert engram.DenseMemory(ints).dtype == "float64"
    assert engram.DenseMemory(ints.astype(np.int16)).dtype == "float64"
    assert engram.DenseMemory(ints.astype(np.float16)).dtype == "float32"
    assert engram.DenseMemory(ints.astype(np.float32)).dtype == "float32"
    assert engram.DenseMemory(ints, dtype="float32").dtype == "float32"
    assert engram.DenseMemory(ints.astype(np.float32), dtype=np.float64).dtype == "float64"
    np.testing.assert_array_equal(engram.DenseMemory(ints).patterns, ints)
    np.testing.assert_array_equal(engram.DenseMemory(ints.tolist()).patterns, ints)
