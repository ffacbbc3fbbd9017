"""Learned energies and decimation from Python, against numpy formulas (seed 000, seed 004)."""

import numpy as np
import pytest

import engram

# float64 linear algebra in another order than numpy's: 1e-10 relative is far above rounding.
TOL = dict(rtol=1e-10, atol=1e-12)


def test_hopfield_response_formulas():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 5)) * 0.2
    W = (A + A.T) / 2
    c = np.full(5, 3.0)
    net = engram.HopfieldResponse(W, c)
    np.testing.assert_array_equal(net.coupling, W)
    np.testing.assert_array_equal(net.leak, c)
    y, x = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    e = -2 * (x * y).sum(1) - np.einsum("bi,ij,bj->b", y, W, y) + (c * y * y).sum(1)
    np.testing.assert_allclose(net.energy(y, x), e, **TOL)
    np.testing.assert_allclose(net.energy(y), np.einsum("bi,ij,bj->b", y, np.diag(c) - W, y),
                               **TOL)
    np.testing.assert_allclose(net.gradient(y, x), -2 * x - 2 * y @ W + 2 * c * y, **TOL)
    np.testing.assert_allclose(net.steady_state(x), np.linalg.solve(np.diag(c) - W, x.T).T,
                               **TOL)
    with pytest.raises(ValueError, match="symmetric"):
        engram.HopfieldResponse(W + np.triu(np.ones((5, 5)), 1), c)
    with pytest.raises(ValueError):
        engram.HopfieldResponse(np.diag(np.full(5, 4.0)), c).steady_state(x)


def test_one_mean_field_epoch_is_the_hebbian_update():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 4))
    net = engram.HopfieldResponse.initial(4, 3.0)
    seen = []
    history = engram.learn(net, x, eta_w=0.1, eta_c=0.2, batch=50, epochs=3, shuffle=False,
                           on_epoch=lambda e: seen.append(e.epoch) or False)
    # Stopped by the callback after the first epoch.
    assert seen == [1] and [h.epoch for h in history] == [1]
    y = x / 3.0  # W = 0: the responses are x / c0
    C = y.T @ y / 50
    np.testing.assert_allclose(net.coupling, 0.1 * C, **TOL)
    np.testing.assert_allclose(net.leak, 3.0 + 0.2 * ((y * y).mean(0) - 1), **TOL)
    np.testing.assert_allclose(history[0].covariance, C, **TOL)
    assert history[0].d_ipr == pytest.approx(np.trace(C @ C) / np.trace(C) ** 2, rel=1e-10)


def test_learning_finds_the_line():
    u = np.array([1.0, 2.0, -1.0, 0.5])
    x = engram.line_observations(u, 1000, 4.0, 0.1, seed=1)
    assert x.shape == (1000, 4)
    np.testing.assert_array_equal(x, engram.line_observations(u, 1000, 4.0, 0.1, seed=1))
    net = engram.HopfieldResponse.initial(4, 3.0)
    history = engram.learn(net, x, eta_w=0.005, eta_c=0.1, batch=1000, epochs=1000)
    assert len(history) == 1000
    # The responses lie on a line, and the leak holds each coordinate at unit variance
    # (<y_i^2> = 1), so along the line every |y_i| is the same: W's top eigenvector is u's
    # sign pattern over sqrt(N) (seed 000: the learned valley is the whitened line).
    w, v = np.linalg.eigh(net.coupling)
    assert abs(v[:, -1] @ np.sign(u)) / 2 > 0.999
    np.testing.assert_allclose(history[-1].covariance.diagonal(), 1.0, atol=0.01)
    assert history[-1].loss < history[0].loss


def test_decimation_recovers_a_spiked_matrix():
    problem = engram.spiked_matrix(100, 0.03, 0.01, 1.0, seed=3)
    xi, Y = problem.patterns, problem.y
    assert xi.shape == (3, 100) and set(np.unique(xi)) == {-1.0, 1.0}
    np.testing.assert_array_equal(Y, Y.T)
    # Y = xi^T xi / sqrt(N) + sqrt(Delta) Z: the residual's off-diagonal variance is Delta
    # (4950 entries: standard error 0.01 * sqrt(2 / 4950) = 2e-4).
    noise = Y - xi.T @ xi / 10.0
    assert noise[np.triu_indices(100, 1)].var() == pytest.approx(0.01, abs=1e-3)
    steps = []
    found = engram.decimate(Y, 3, 0.01, seed=4, on_step=steps.append)
    assert found.patterns.shape == (3, 100) and [s.step for s in steps] == [1, 2, 3]
    assert all(s.accepted for s in found.steps)
    truth, overlap = engram.match_patterns(xi, found.patterns)
    assert sorted(truth) == [0, 1, 2] and min(overlap) > 0.95
    estimate = engram.decimation_estimate(found.patterns)
    np.testing.assert_allclose(estimate, found.patterns.T @ found.patterns / 100, **TOL)
    S = xi.T @ xi / 100
    assert engram.matrix_mse(estimate, xi) == pytest.approx(
        ((estimate - S) ** 2).sum() / 200, rel=1e-10)
    with pytest.raises(ValueError, match="square"):
        engram.decimate(Y[:, :50], 3, 0.01)
    with pytest.raises(ValueError, match="count"):
        engram.decimate(Y, 0, 0.01)


def test_rie_keeps_the_eigenvectors_and_cleans_the_eigenvalues():
    problem = engram.spiked_matrix(80, 0.05, 0.1, 1.0, seed=5)
    Y = problem.y
    estimate, observed, cleaned = engram.rie_estimate(Y, 0.1)
    np.testing.assert_allclose(estimate, estimate.T, atol=1e-12)
    np.testing.assert_allclose(observed, np.linalg.eigvalsh(Y / np.sqrt(80)), rtol=1e-9,
                               atol=1e-12)
    # The estimate is O diag(cleaned) O^T with O the eigenvectors of Y.
    _, O = np.linalg.eigh(Y)
    np.testing.assert_allclose(O.T @ estimate @ O, np.diag(cleaned), atol=1e-9)
    naive = engram.matrix_mse(Y / np.sqrt(80), problem.patterns)
    assert engram.matrix_mse(estimate, problem.patterns) < naive


def test_a_network_is_read_whole_while_another_thread_learns():
    import threading

    u = np.array([1.0, -1.0, 2.0])
    x = engram.line_observations(u, 500, 4.0, 0.1, seed=2)
    net = engram.HopfieldResponse.initial(3, 3.0)
    started = threading.Event()
    worker = threading.Thread(
        target=lambda: engram.learn(net, x, eta_w=0.005, eta_c=0.1, batch=500, epochs=2000,
                                    on_epoch=lambda e: started.set()))
    worker.start()
    started.wait()  # the first epoch is done: learning is under way, holding the net's lock
    read = net.coupling  # waits for the lock: never a W in the middle of an update
    worker.join()
    np.testing.assert_array_equal(read, net.coupling)


def test_learning_refuses_to_be_reentered_and_reports_bad_callbacks():
    x = engram.line_observations(np.ones(3), 50, 4.0, 0.1, seed=2)
    net = engram.HopfieldResponse.initial(3, 3.0)
    before = net.coupling

    def nested(e):
        engram.learn(net, x, batch=50, epochs=1)

    with pytest.raises(RuntimeError, match="learn would change"):
        engram.learn(net, x, batch=50, epochs=3, on_epoch=nested)
    with pytest.raises(ValueError, match="truth value"):
        engram.learn(net, x, batch=50, epochs=3, on_epoch=lambda e: np.ones(3))
    # Within its first epoch either failure left a network learn could go on from.
    assert net.coupling.shape == before.shape and np.all(np.isfinite(net.coupling))
