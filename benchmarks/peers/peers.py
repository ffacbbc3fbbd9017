"""The peers of engram's steps, written as their users write them.

Arrays are held as numpy users hold them: patterns P (K, D) and states X (B, D), one row per
sample. Each peer is a function make(case) -> (step, fetch): `step()` does the timed work once
and returns its result in the framework's own type, `fetch(result)` turns that into a float32
numpy array (B, D) to compare with engram's. Setup (moving arrays into the framework, encoding a
random-feature tensor, building a KD-tree, compiling) happens in make() and in the untimed
warm-up call, as it would in a user's program that steps many times.

The steps (SCIENCE.md; engram's lse_energy, drdam_energy<sincos_features>, lsr_energy):
  LSE    x <- x - eta (x - P^T softmax(beta (P x - |xi|^2 / 2)))
  DrDAM  x <- x - eta grad E,  grad E = -(1/beta) J_phi(x)^T T / <T, phi(x)>,
         phi(x) = [cos h; sin h] / sqrt(Y), h = sqrt(beta) omega x, T = sum_mu phi(xi_mu)
         (grad E = 0 where <T, phi(x)> <= eps = 1e-5, where engram clips the energy)
  LSR    z <- mean of the patterns strictly within r = sqrt(2 / beta) of z, until z stops
         changing (at most 100 steps); a state with no pattern within r stays put
  whole retrieval: the LSE step with the hidden coordinates free and the rest held, per
         column until |E_t - E_(t-1)| < tol or `steps` steps
"""

import math

import numpy as np

EPS = 1e-5  # drdam_energy's default clip of <T, phi(x)>


# ----------------------------------------------------------------------------------- numpy


def lse_numpy(c):
    P, X, beta, eta = c.patterns, c.queries, c.beta, c.eta
    half = 0.5 * np.einsum("kd,kd->k", P, P)

    def step():
        s = X @ P.T
        s -= half
        s *= beta
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return (1 - eta) * X + eta * (s @ P)

    return step, lambda r: r


def sincos_tensor_numpy(P, omega, beta):
    h = math.sqrt(beta) * (P.astype(np.float64) @ omega.T.astype(np.float64))
    y = omega.shape[0]
    return (np.cos(h).sum(0) / math.sqrt(y)).astype(np.float32), (
        np.sin(h).sum(0) / math.sqrt(y)
    ).astype(np.float32)


def drdam_numpy(c):
    X, omega, beta, eta = c.queries, c.omega, c.beta, c.eta
    tc, ts = sincos_tensor_numpy(c.patterns, omega, beta)
    root, scale = math.sqrt(beta), 1 / math.sqrt(omega.shape[0])

    def step():
        h = X @ omega.T
        h *= root
        cos, sin = np.cos(h), np.sin(h)
        s = scale * (cos @ tc + sin @ ts)
        u = scale * (cos * ts - sin * tc)
        g = (u @ omega) * (-root / beta)
        g /= np.maximum(s, EPS)[:, None]
        g[s <= EPS] = 0
        return X - eta * g

    return step, lambda r: r


def lsr_gemm_numpy(c):
    """Distances by one GEMM per step, |z|^2 - 2 z.xi + |xi|^2, as numpy users write them."""
    P, X, r2 = c.patterns, c.queries, 2.0 / c.beta
    norms = np.einsum("kd,kd->k", P, P)

    def step():
        z = X.copy()
        active = np.arange(len(z))
        for _ in range(100):
            if active.size == 0:
                break
            za = z[active]
            d2 = np.einsum("bd,bd->b", za, za)[:, None] - 2 * (za @ P.T) + norms
            inside = (d2 < r2).astype(np.float32)
            count = inside.sum(1)
            new = np.where(count[:, None] > 0, (inside @ P) / np.maximum(count, 1)[:, None], za)
            moved = np.any(new != za, axis=1)
            z[active] = new
            active = active[moved]
        return z

    return step, lambda r: r


def lsr_kdtree_scipy(c, threads):
    """scipy's cKDTree: the supports by query_ball_point, the means by one reduceat."""
    from scipy.spatial import cKDTree

    P, X, r = c.patterns, c.queries, math.sqrt(2.0 / c.beta)
    tree = cKDTree(P)
    # query_ball_point keeps distances <= r; the support is strict (< r). The largest float
    # below r makes them agree.
    radius = np.nextafter(r, 0)

    def step():
        z = X.copy()
        active = np.arange(len(z))
        for _ in range(100):
            if active.size == 0:
                break
            za = z[active]
            lists = tree.query_ball_point(za, radius, workers=threads, return_sorted=False)
            count = np.fromiter((len(m) for m in lists), dtype=np.int64, count=len(lists))
            new = za.copy()
            have = count > 0
            if have.any():
                flat = np.concatenate([np.asarray(m, dtype=np.int64) for m in lists if m])
                starts = np.concatenate(([0], np.cumsum(count[have])[:-1]))
                sums = np.add.reduceat(P[flat].astype(np.float64), starts, axis=0)
                new[have] = (sums / count[have][:, None]).astype(np.float32)
            moved = np.any(new != za, axis=1)
            z[active] = new
            active = active[moved]
        return z

    return step, lambda r: r


# ----------------------------------------------------------------------------------- torch


def _torch():
    import torch

    return torch


def lse_torch_naive(c):
    torch = _torch()
    P, X = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta = c.beta, c.eta
    half = 0.5 * (P * P).sum(1)

    def step():
        p = torch.softmax(beta * (X @ P.T - half), dim=1)
        return X - eta * (X - p @ P)

    return step, lambda r: r.numpy()


def lse_torch_autograd(c):
    torch = _torch()
    P, X0 = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta = c.beta, c.eta
    half = 0.5 * (P * P).sum(1)

    def step():
        X = X0.clone().requires_grad_(True)
        energy = -torch.logsumexp(beta * (X @ P.T - half), dim=1) / beta + 0.5 * (X * X).sum(1)
        (grad,) = torch.autograd.grad(energy.sum(), X)
        return (X0 - eta * grad).detach()

    return step, lambda r: r.numpy()


def lse_torch_lean(c):
    """Preallocated buffers, addmm with the bias folded in, the softmax in place."""
    torch = _torch()
    P, X = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta = c.beta, c.eta
    bias = (-0.5 * beta) * (P * P).sum(1)
    Pb = beta * P
    S = torch.empty(X.shape[0], P.shape[0])
    out = torch.empty_like(X)

    def step():
        torch.addmm(bias, X, Pb.T, out=S)
        S.sub_(S.amax(dim=1, keepdim=True)).exp_()
        S.div_(S.sum(dim=1, keepdim=True))
        return torch.addmm(X, S, P, beta=1 - eta, alpha=eta, out=out)

    return step, lambda r: r.numpy()


def lse_torch_compile(c):
    torch = _torch()
    P, X = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta = c.beta, c.eta
    half = 0.5 * (P * P).sum(1)

    @torch.compile
    def lse_step(X, P, half):
        p = torch.softmax(beta * (X @ P.T - half), dim=1)
        return X - eta * (X - p @ P)

    return (lambda: lse_step(X, P, half)), lambda r: r.numpy()


def augmented(torch, P, beta):
    """Keys [xi, -|xi|^2 / 2] and values [xi, 0]: softmax(beta q.k) with q = [x, 1] is the LSE
    softmax, and the flash kernel (no mask, equal head sizes) runs."""
    half = 0.5 * (P * P).sum(1, keepdim=True)
    keys = torch.cat([P, -half], dim=1)[None, None]
    values = torch.cat([P, torch.zeros_like(half)], dim=1)[None, None]
    return keys, values


def lse_torch_sdpa(c):
    torch = _torch()
    F = torch.nn.functional
    P, X = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta, d = c.beta, c.eta, c.patterns.shape[1]
    keys, values = augmented(torch, P, beta)
    ones = torch.ones(X.shape[0], 1)

    def step():
        q = torch.cat([X, ones], dim=1)[None, None]
        read = F.scaled_dot_product_attention(q, keys, values, scale=beta)[0, 0, :, :d]
        return X - eta * (X - read)

    return step, lambda r: r.numpy()


def drdam_torch(c):
    """The analytic step: one projection, cos and sin, the two contractions with T."""
    torch = _torch()
    X, omega = torch.from_numpy(c.queries), torch.from_numpy(c.omega)
    beta, eta = c.beta, c.eta
    tc, ts = (torch.from_numpy(t) for t in sincos_tensor_numpy(c.patterns, c.omega, beta))
    root, scale = math.sqrt(beta), 1 / math.sqrt(c.omega.shape[0])
    omega_scaled = root * omega

    def step():
        h = X @ omega_scaled.T
        cos, sin = torch.cos(h), torch.sin(h)
        s = scale * (cos @ tc + sin @ ts)
        u = cos * ts - sin * tc
        g = (u @ omega_scaled) * (-scale / beta)
        g = torch.where((s > EPS)[:, None], g / s.clamp_min(EPS)[:, None], 0.0)
        return X - eta * g

    return step, lambda r: r.numpy()


def retrieval_torch_sdpa(c):
    """A Python loop over the SDPA step with engram's stop rule: each column runs until
    |E_t - E_(t-1)| < tol or `steps` steps; E comes with the step from the flash kernel's
    log-sum-exp, E = -(1/beta) lse + |x|^2 / 2."""
    torch = _torch()
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    P, X0 = torch.from_numpy(c.patterns), torch.from_numpy(c.queries)
    beta, eta, d, tol, limit = c.beta, c.eta, c.patterns.shape[1], c.tol, c.steps
    held = torch.from_numpy(c.visible != 0)
    keys, values = augmented(torch, P, beta)

    def evaluate(x):
        q = torch.cat([x, torch.ones(x.shape[0], 1)], dim=1)[None, None]
        read, lse = flash(q, keys, values, scale=beta)[:2]
        energy = -lse[0, 0] / beta + 0.5 * (x * x).sum(1)
        return read[0, 0, :, :d], energy

    def step():
        x = X0.clone()
        steps = torch.zeros(x.shape[0], dtype=torch.int64)
        active = torch.arange(x.shape[0])
        xa = x
        read, energy = evaluate(xa)
        for t in range(1, limit + 1):
            xa = torch.where(held, xa, xa - eta * (xa - read))
            read, new_energy = evaluate(xa)
            done = (new_energy - energy).abs() < tol
            if t == limit:
                done[:] = True
            finished = active[done]
            x[finished] = xa[done]
            steps[finished] = t
            keep = ~done
            active, xa, read, energy = active[keep], xa[keep], read[keep], new_energy[keep]
            if active.numel() == 0:
                break
        return x, steps

    return step, lambda r: (r[0].numpy(), r[1].numpy())


# ------------------------------------------------------------------------------------- JAX


def _jax():
    import jax

    return jax


def lse_jax_grad(c):
    jax = _jax()
    jnp = jax.numpy
    P, X = jnp.asarray(c.patterns), jnp.asarray(c.queries)
    beta, eta = c.beta, c.eta

    def energy(X, P):
        half = 0.5 * (P * P).sum(1)
        return (
            -jax.nn.logsumexp(beta * (X @ P.T - half), axis=1) / beta + 0.5 * (X * X).sum(1)
        ).sum()

    grad = jax.grad(energy)

    @jax.jit
    def lse_step(X, P):
        return X - eta * grad(X, P)

    return (lambda: lse_step(X, P).block_until_ready()), np.asarray


def lse_jax_analytic(c):
    jax = _jax()
    jnp = jax.numpy
    P, X = jnp.asarray(c.patterns), jnp.asarray(c.queries)
    beta, eta = c.beta, c.eta

    @jax.jit
    def lse_step(X, P):
        half = 0.5 * (P * P).sum(1)
        p = jax.nn.softmax(beta * (X @ P.T - half), axis=1)
        return X - eta * (X - p @ P)

    return (lambda: lse_step(X, P).block_until_ready()), np.asarray


def drdam_jax(c):
    jax = _jax()
    jnp = jax.numpy
    X, omega = jnp.asarray(c.queries), jnp.asarray(c.omega)
    beta, eta = c.beta, c.eta
    tc, ts = (jnp.asarray(t) for t in sincos_tensor_numpy(c.patterns, c.omega, beta))
    root, scale = math.sqrt(beta), 1 / math.sqrt(c.omega.shape[0])

    @jax.jit
    def drdam_step(X, omega, tc, ts):
        h = root * (X @ omega.T)
        cos, sin = jnp.cos(h), jnp.sin(h)
        s = scale * (cos @ tc + sin @ ts)
        g = ((cos * ts - sin * tc) @ omega) * (-root * scale / beta)
        g = jnp.where((s > EPS)[:, None], g / jnp.maximum(s, EPS)[:, None], 0.0)
        return X - eta * g

    return (lambda: drdam_step(X, omega, tc, ts).block_until_ready()), np.asarray


# --------------------------------------------------------------------------------- registry

# kind -> [(peer name, make)]; make(case, threads) -> (step, fetch)
PEERS = {
    "lse": [
        ("numpy", lambda c, t: lse_numpy(c)),
        ("torch naive", lambda c, t: lse_torch_naive(c)),
        ("torch autograd", lambda c, t: lse_torch_autograd(c)),
        ("torch lean addmm", lambda c, t: lse_torch_lean(c)),
        ("torch.compile", lambda c, t: lse_torch_compile(c)),
        ("torch SDPA (augmented)", lambda c, t: lse_torch_sdpa(c)),
        ("jax jit(grad)", lambda c, t: lse_jax_grad(c)),
        ("jax analytic", lambda c, t: lse_jax_analytic(c)),
    ],
    "drdam": [
        ("numpy", lambda c, t: drdam_numpy(c)),
        ("torch analytic", lambda c, t: drdam_torch(c)),
        ("jax analytic", lambda c, t: drdam_jax(c)),
    ],
    "lsr": [
        ("numpy GEMM distances", lambda c, t: lsr_gemm_numpy(c)),
        ("scipy cKDTree", lsr_kdtree_scipy),
    ],
    "retrieval": [
        ("torch SDPA loop", lambda c, t: retrieval_torch_sdpa(c)),
    ],
}
