"""The classical Hopfield network from Python (seed 004), against numpy."""

import numpy as np
import pytest

import engram

TOL = dict(rtol=1e-12, atol=1e-12)


def coupling(xi):
    J = xi.T @ xi / xi.shape[1]
    np.fill_diagonal(J, 0.0)
    return J


def test_energies_and_fields_follow_the_couplings():
    xi = engram.random_ising_patterns(60, 4, seed=1)
    assert xi.shape == (4, 60) and set(np.unique(xi)) == {-1.0, 1.0}
    np.testing.assert_array_equal(xi, engram.random_ising_patterns(60, 4, seed=1))
    J = coupling(xi)
    sigma = np.sign(np.random.default_rng(2).standard_normal((3, 60)))
    for net in (engram.HopfieldNetwork(xi), engram.HopfieldNetwork.hebbian(xi),
                engram.HopfieldNetwork.from_coupling(J)):
        assert net.dim == 60
        np.testing.assert_allclose(net.energy(sigma), -0.5 * np.einsum("bi,ij,bj->b", sigma, J,
                                                                       sigma), **TOL)
        np.testing.assert_allclose(net.local_fields(sigma), sigma @ J, **TOL)
    np.testing.assert_allclose(engram.overlaps(xi, sigma), sigma @ xi.T / 60, **TOL)


def test_asynchronous_updates_repair_corrupted_patterns():
    xi = engram.random_ising_patterns(400, 10, seed=3)  # alpha = 0.025: far below capacity
    noisy = xi.copy()
    noisy[:, :40] *= -1  # 10% of the spins flipped
    net = engram.HopfieldNetwork(xi)
    r = engram.run_spins(net, noisy, engram.AsynchronousSign(seed=4),
                         engram.stop.fixed_point() | engram.stop.after(50), record_trace=True)
    assert r.all_converged
    np.testing.assert_array_equal(r.states, xi)
    assert np.all(np.diff(r.energy_trace, axis=0) <= 1e-12)  # the energy never rises
    np.testing.assert_allclose(r.energies, net.energy(xi), **TOL)
    dense = engram.run_spins(engram.HopfieldNetwork.hebbian(xi), noisy,
                             engram.AsynchronousSign(seed=4),
                             engram.stop.fixed_point() | engram.stop.after(50))
    np.testing.assert_array_equal(dense.states, r.states)  # the same states visited


def test_synchronous_and_heat_bath_updates():
    xi = engram.random_ising_patterns(400, 4, seed=5)
    net = engram.HopfieldNetwork(xi)
    r = engram.run_spins(net, xi, engram.SynchronousSign(),
                         engram.stop.fixed_point() | engram.stop.after(10))
    # Stored patterns at low load are fixed points: one sweep without a change.
    assert r.all_converged and r.steps.tolist() == [1] * 4
    hot = engram.run_spins(net, xi, engram.Glauber(beta=0.0, seed=6), engram.stop.after(5))
    # At beta = 0 every spin is a fair coin: overlaps with the start ~ N(0, 1/N), |m| < 0.2.
    assert np.abs(np.diag(engram.overlaps(xi, hot.states))).max() < 0.2
    cold = engram.run_spins(net, xi, engram.Glauber(beta=50.0, seed=6), engram.stop.after(5))
    np.testing.assert_array_equal(cold.states, xi)


def test_spins_must_be_ising():
    xi = engram.random_ising_patterns(10, 2, seed=1)
    net = engram.HopfieldNetwork(xi)
    with pytest.raises(ValueError, match=r"states\[0, 3\] is 0.5"):
        bad = xi.copy()
        bad[0, 3] = 0.5
        net.energy(bad)
    with pytest.raises(ValueError):
        engram.HopfieldNetwork(xi * 2)
    with pytest.raises(ValueError, match="no step limit"):
        engram.run_spins(net, xi, engram.AsynchronousSign(), engram.stop.fixed_point())
    with pytest.raises(ValueError, match="glauber.beta"):
        engram.run_spins(net, xi, engram.Glauber(beta=-1.0), engram.stop.after(2))
