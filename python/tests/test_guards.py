"""What the binding refuses so that no Python call can crash it: memories changed from a
callback of a call reading them, rules nested too deep, lossy loads, meaningless arguments."""

import gc

import numpy as np
import pytest

import engram
import reference as ref


def grid(k):
    return np.arange(k, dtype=float)[:, None] * np.array([[1.0, 0.0]])


def test_a_memory_cannot_change_under_an_enumeration():
    memory = engram.DenseMemory(grid(200))
    lsr = engram.LSR(memory, beta=2.0 / 0.8**2)  # neighbours 1 apart interact (2r = 1.6)
    seen = []
    census = engram.enumerate_lsr_minima(lsr, progress=lambda p: seen.append((p.done, p.total)))
    assert seen and seen[-1] == (200, 200) and census.count == 399  # 200 patterns, 199 centroids
    with pytest.raises(RuntimeError, match="DenseMemory.remove would change the memory"):
        engram.enumerate_lsr_minima(lsr, progress=lambda p: memory.remove(list(range(1, 200))))
    with pytest.raises(RuntimeError, match="DenseMemory.add would change the memory"):
        engram.enumerate_lsr_minima(lsr, progress=lambda p: memory.add(grid(3)))
    assert len(memory) == 200
    memory.add(grid(3) + 500.0)  # once the call has returned, the memory may change
    assert len(memory) == 203


def test_a_memory_cannot_change_under_a_census_or_an_encoding():
    P = grid(5)
    memory = engram.DenseMemory(P)
    lse = engram.LSE(memory, beta=20.0)
    with pytest.raises(RuntimeError, match="would change the memory"):
        engram.descent_minima(lse, P, P, engram.GradientDescent(0.5), engram.stop.after(5),
                              progress=lambda p: memory.remove([0]))
    phi = engram.RandomFeatures(2, 64, 1.0, seed=1, dtype="float64")
    tensor = engram.DistributedMemory(phi)
    with pytest.raises(RuntimeError, match="DistributedMemory.add would change the memory"):
        tensor.add(P, progress=lambda p: tensor.add(P))
    with pytest.raises(RuntimeError, match="DistributedMemory.remove would change the memory"):
        tensor.add(P, progress=lambda p: tensor.remove(P))
    assert len(tensor) == 10  # each outer add finished; nothing else changed


def test_energies_over_the_same_memory_may_evaluate_from_a_callback():
    P = grid(5)
    memory = engram.DenseMemory(P)
    lse, lsr = engram.LSE(memory, beta=2.0), engram.LSR(memory, beta=2.0, eps=1e-3)
    values = []
    r = engram.retrieve(lse, P + 0.1, engram.GradientDescent(0.1), engram.stop.after(3),
                        progress=lambda p: values.append(lsr.value(P)))
    assert len(values) == 3 and r.steps.tolist() == [3] * 5
    np.testing.assert_allclose(values[0], ref.lsr(P, P, 2.0, 1e-3)[0], rtol=1e-12)


def test_stop_rules_nest_only_so_deep():
    rule = engram.stop.after(1)
    for _ in range(255):
        rule = engram.stop.after(1) | rule
    with pytest.raises(ValueError, match="256 combinations deep"):
        engram.stop.after(1) | rule
    del rule
    gc.collect()


def test_lossy_loads_and_meaningless_arguments_are_refused(tmp_path):
    memory = engram.DenseMemory(np.ones((2, 3)))
    memory.save(str(tmp_path / "m.engram"))
    with pytest.raises(TypeError, match="float64 patterns.*round"):
        engram.DenseMemory.load(str(tmp_path / "m.engram"), dtype="float32")
    tensor = engram.DistributedMemory(engram.RandomFeatures(3, 8, 1.0, 0, dtype="float64"),
                                      np.ones((2, 3)))
    tensor.save(str(tmp_path / "t.engram"))
    with pytest.raises(TypeError, match="float64 numbers.*round"):
        engram.DistributedMemory.load(str(tmp_path / "t.engram"), dtype="float32")
    with pytest.raises(ValueError, match="only the cos map"):
        engram.RandomFeatures.from_omega(np.ones((4, 3)), 1.0, bias=np.zeros(4), map="sincos")
    with pytest.raises(ValueError, match="-1"):
        engram.Philox(1).uniform((-1, 3), stream=0)
    with pytest.raises(FloatingPointError):
        engram.binarised_hamming(np.full((1, 2), np.nan), np.zeros((1, 2)))
    with pytest.raises(FloatingPointError):
        engram.write_png_grid(str(tmp_path / "g.png"), np.full((1, 4), np.nan), height=2, width=2)
    assert not (tmp_path / "g.png").exists()


def test_drdam_keeps_its_memory_alive_and_works_in_float32():
    rng = np.random.default_rng(4)
    P = rng.standard_normal((10, 4)) * 0.3
    X = P[:3] + 0.05
    phi64 = engram.RandomFeatures(4, 2000, 1.0, seed=6, dtype="float64")
    phi32 = engram.RandomFeatures(4, 2000, 1.0, seed=6)
    exact = engram.DrDAM(engram.DistributedMemory(phi64, P)).value_and_gradient(X)
    memory = engram.DistributedMemory(phi32, P.astype(np.float32))
    drdam = engram.DrDAM(memory)
    del memory
    gc.collect()
    e, g = drdam.value_and_gradient(X.astype(np.float32))
    assert e.dtype == np.float32
    # The same directions (one seed), float32 sums of 4000 features: ~1e-6 relative each;
    # 1e-4 leaves room.
    np.testing.assert_allclose(e, exact[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g, exact[1], rtol=1e-3, atol=1e-4)


def test_orthogonal_features_have_orthogonal_blocks():
    phi = engram.RandomFeatures(4, 12, 1.0, seed=3, orthogonal=True, dtype="float64")
    omega = phi.omega
    for block in range(3):
        R = omega[4 * block: 4 * block + 4]
        G = R @ R.T
        off = G - np.diag(np.diag(G))
        assert np.abs(off).max() < 1e-12 * np.abs(G).max()
    X = np.random.default_rng(1).standard_normal((2, 4)) * 0.2
    phi_demand = engram.RandomFeatures(4, 12, 1.0, seed=3, orthogonal=True, storage="on_demand",
                                       dtype="float64")
    np.testing.assert_allclose(phi_demand.features(X), phi.features(X), rtol=1e-12)


def test_the_hybrid_steps_outside_every_support():
    P = np.array([[0.0, 0.0], [4.0, 0.0]])
    hybrid = engram.Hybrid(engram.DenseMemory(P), beta=2.0, eps=1e-3, lse_beta=1.0, weight=1.0)
    x = np.array([[2.0, 1.5]])  # farther than r = 1 from both patterns
    r = engram.retrieve(hybrid, x, engram.CentroidIteration(outside_step=0.25),
                        engram.stop.after(1))
    np.testing.assert_allclose(r.states, x - 0.25 * ref.hybrid(P, x, 2.0, 1e-3, 1.0, 1.0)[1],
                               rtol=1e-12)
    stay = engram.retrieve(hybrid, x, engram.CentroidIteration(), engram.stop.after(1))
    np.testing.assert_array_equal(stay.states, x)


def test_the_theorem_2_bound_and_corollary_step():
    eta, L, c1, K, beta, E, D, Y = 0.01, 5, 0.5, 10, 2.0, -0.3, 8, 200
    q = eta * L * (1 + 2 * K * beta * np.exp(beta / 2))
    expected = (2 * eta * L * c1 * K * np.exp(beta * E) * np.sqrt(D / Y)
                * (1 - q**L) / (1 - q))
    assert engram.drdam_divergence_bound(eta, L, c1, K, beta, E, D, Y) == pytest.approx(
        expected, rel=1e-12)
    assert engram.drdam_corollary_step(0.5, L, K, beta) == pytest.approx(
        0.5 / (L * (1 + 2 * K * beta * np.exp(beta / 2))), rel=1e-12)
    with pytest.raises(ValueError, match="C2 is 1.5"):
        engram.drdam_corollary_step(1.5, L, K, beta)
