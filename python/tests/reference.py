"""Reference formulas in numpy, written from SCIENCE.md, for checking the bindings.

Every function takes patterns P (K, D) and states X (B, D) in float64 and returns energies (B,)
or gradients (B, D). None of them calls engram.
"""

import numpy as np


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def sq_dist(P, X):
    return ((X[:, None, :] - P[None, :, :]) ** 2).sum(-1)  # (B, K)


def lse(P, X, beta):
    """E = -(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2), grad = x - sum_mu p_mu xi_mu."""
    s = -0.5 * beta * sq_dist(P, X)
    return -logsumexp(s, 1) / beta, X - softmax(s) @ P


def lse_dot(P, X, beta):
    """E = -(1/beta) log sum_mu exp(beta <xi_mu, x>) + ||x||^2 / 2."""
    s = beta * X @ P.T
    return -logsumexp(s, 1) / beta + 0.5 * (X * X).sum(1), X - softmax(s) @ P


def normalized_lse(P, X, beta):
    """E = -(1/beta) log sum_mu exp(beta <xi_mu, x/||x||>) + 1/2,
    grad = -(I - g g^T) sum_mu p_mu xi_mu / ||x||, g = x / ||x||."""
    n = np.linalg.norm(X, axis=1, keepdims=True)
    g = X / n
    s = beta * g @ P.T
    m = softmax(s) @ P
    tangent = m - (m * g).sum(1, keepdims=True) * g
    return -logsumexp(s, 1) / beta + 0.5, -tangent / n


def linear_gaussian(P, X, beta):
    """E = -(1/beta) sum_mu exp(-beta/2 ||x - xi_mu||^2), grad = sum_mu w_mu (x - xi_mu)."""
    w = np.exp(-0.5 * beta * sq_dist(P, X))  # (B, K)
    return -w.sum(1) / beta, w.sum(1)[:, None] * X - w @ P


def linear_exp_dot(P, X, beta):
    """E = -(1/beta) sum_mu exp(beta <xi_mu, x>) + ||x||^2 / 2, grad = x - sum_mu w_mu xi_mu."""
    w = np.exp(beta * X @ P.T)
    return -w.sum(1) / beta + 0.5 * (X * X).sum(1), X - w @ P


def lsr(P, X, beta, eps):
    """E = -(1/beta) log(eps + sum_mu ReLU(1 - beta/2 ||x - xi_mu||^2)),
    grad = sum_{mu in support} (x - xi_mu) / (eps + S)."""
    w = np.maximum(0.0, 1.0 - 0.5 * beta * sq_dist(P, X))  # (B, K)
    S = eps + w.sum(1)
    inside = (w > 0).astype(float)
    with np.errstate(divide="ignore"):
        e = -np.log(S) / beta
    grad = np.zeros_like(X)
    ok = S > 0
    grad[ok] = (inside[ok].sum(1)[:, None] * X[ok] - inside[ok] @ P) / S[ok, None]
    return e, grad


def hybrid(P, X, beta, eps, lse_beta, weight):
    """LSR + weight * ReLU(E_LSE(x; lse_beta) - 1/beta)."""
    e1, g1 = lsr(P, X, beta, eps)
    e2, g2 = lse(P, X, lse_beta)
    active = (e2 - 1.0 / beta) > 0
    return e1 + weight * np.maximum(0.0, e2 - 1.0 / beta), g1 + weight * active[:, None] * g2


def power(P, X, n, rectified):
    """E = -sum_mu F(<xi_mu, x>), F(s) = s^n or ReLU(s)^n."""
    s = X @ P.T
    if rectified:
        s = np.maximum(s, 0.0)
    return -(s**n).sum(1), -(n * s ** (n - 1)) @ P


def central_difference(f, X, h):
    """The gradient of f (energies of a batch) by central differences, coordinate by coordinate."""
    G = np.zeros_like(X)
    for d in range(X.shape[1]):
        step = np.zeros_like(X)
        step[:, d] = h
        G[:, d] = (f(X + step) - f(X - step)) / (2 * h)
    return G
