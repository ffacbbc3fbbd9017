"""Analysis functions and files from Python, against numpy and against known answers."""

import gzip
import os
import struct

import numpy as np
import pytest

import engram
import reference as ref

FASHION = "/usr/share/datasets/fashion-mnist"


def test_interaction_beta_meets_its_target():
    rng = np.random.default_rng(2)
    P = rng.standard_normal((60, 5))
    r = engram.interaction_beta(P, 4.0)
    assert r.beta == pytest.approx(2.0 / r.radius**2, rel=1e-12)
    d = np.sqrt(ref.sq_dist(P, P))
    counted = (d <= 2 * r.radius).sum(1).mean()  # the pattern itself included, as Algorithm 2
    assert counted == pytest.approx(r.mean_interactions, rel=1e-12)
    # The binary search stops within one pattern pair of the target.
    assert abs(counted - 4.0) <= 2.0 / 60 + 1e-12
    others = engram.interaction_beta(P, 3.0, count_self=False)
    assert ((d <= 2 * others.radius).sum(1) - 1).mean() == pytest.approx(
        others.mean_interactions, rel=1e-12
    )
    with pytest.raises(ValueError, match="target is 100"):
        engram.interaction_beta(P, 100.0)


def test_enumerate_lsr_minima_finds_the_emergent_centroid():
    # Patterns at 0, 1 and 10 on a line with support radius 0.8: each pattern's own support is
    # itself (the others are >= 1 away), and the centroid 0.5 of {0, 1} has both within 0.8
    # and nothing else: one emergent minimum. 10 and the others never interact.
    P = np.array([[0.0], [1.0], [10.0]])
    lsr = engram.LSR(engram.DenseMemory(P), beta=2.0 / 0.8**2)
    c = engram.enumerate_lsr_minima(lsr)
    order = np.argsort(c.minima[:, 0])
    np.testing.assert_array_equal(c.minima[order, 0], [0.0, 0.5, 1.0, 10.0])
    assert c.emergent[order].tolist() == [False, True, False, False]
    assert [c.supports[i].tolist() for i in order] == [[0], [0, 1], [1], [2]]
    assert c.retrievable.tolist() == [True, True, True]
    assert (c.count, c.emergent_count, c.stored_count, c.retrievable_count) == (4, 1, 3, 3)
    np.testing.assert_allclose(c.energies, lsr.value(c.minima), rtol=1e-12)
    with pytest.raises(ValueError, match="max_subsets"):
        engram.enumerate_lsr_minima(
            engram.LSR(engram.DenseMemory(np.zeros((30, 1)) + np.arange(30)[:, None] * 1e-3),
                       beta=1.0),
            max_subsets=10,
        )


def test_descent_minima_counts_lse_memories():
    rng = np.random.default_rng(8)
    P = rng.standard_normal((12, 4))
    lse = engram.LSE(engram.DenseMemory(P), beta=50.0)  # sharp: every pattern a minimum
    seen = []
    c = engram.descent_minima(lse, P, P + 1e-3, engram.GradientDescent(0.5),
                              engram.stop.gradient_norm(1e-10) | engram.stop.after(2000),
                              tolerance=1e-4, progress=lambda p: seen.append(p.step))
    assert c.count == 12 and c.emergent_count == 0 and c.retrievable.all()
    assert c.unfinished == 0 and seen and seen == sorted(seen)
    # Each minimum is within the tolerance of its pattern.
    assert np.sqrt(ref.sq_dist(P, c.minima)).min(1).max() < 1e-4
    flat = engram.LSE(engram.DenseMemory(P), beta=0.01)  # one minimum near the mean
    c2 = engram.descent_minima(flat, P, P, engram.GradientDescent(0.5),
                               engram.stop.gradient_norm(1e-10) | engram.stop.after(5000))
    assert c2.count == 1 and c2.emergent_count == 1 and not c2.retrievable.any()


def test_finite_energy_fraction_is_the_supported_area():
    # One pattern at the origin with support radius 0.5 in the box [-1, 1]^2: the finite part
    # is the disc, pi 0.25 / 4 = 0.196 of the box. 100000 samples: standard error 0.0013;
    # 0.01 is seven of them.
    lsr = engram.LSR(engram.DenseMemory(np.zeros((1, 2))), beta=2.0 / 0.25)
    f = engram.finite_energy_fraction(lsr, -1.0, 1.0, samples=100000, seed=4)
    assert f == pytest.approx(np.pi * 0.25 / 4, abs=0.01)
    assert engram.finite_energy_fraction(lsr, -1.0, 1.0, samples=5000, seed=4) == \
        engram.finite_energy_fraction(lsr, -1.0, 1.0, samples=5000, seed=4)
    with pytest.raises(ValueError, match="empty"):
        engram.finite_energy_fraction(lsr, 1.0, -1.0)


def test_binarised_hamming_and_the_drdam_bounds():
    rng = np.random.default_rng(6)
    a, b = rng.random((5, 16)), rng.random((5, 16))
    t = 0.5 / np.sqrt(16)
    a[0, 0], b[0, 0] = t, t - 1e-9  # on the threshold: >= counts as above
    assert engram.binarised_hamming(a, b) == pytest.approx(((a >= t) != (b >= t)).mean())
    with pytest.raises(ValueError, match="must agree"):
        engram.binarised_hamming(a, b[:, :3])
    assert engram.drdam_gradient_bound(0.5, 10, 2.0, -0.3, 8, 200) == pytest.approx(
        2 * 0.5 * 10 * np.exp(2.0 * -0.3) * np.sqrt(8 / 200), rel=1e-14)
    assert engram.drdam_corollary_bound(0.5, 0.25, 2.0, -0.3, 8, 200) == pytest.approx(
        0.5 * 0.25 * np.exp(2.0 * (-0.3 - 0.5)) / (2.0 * 0.75) * np.sqrt(8 / 200), rel=1e-14)
    with pytest.raises(ValueError, match="beta"):
        engram.drdam_gradient_bound(0.5, 10, -2.0, -0.3, 8, 200)


def test_mean_absolute_errors_of_drdam_against_lse():
    rng = np.random.default_rng(3)
    P = rng.standard_normal((10, 4)) * 0.3
    X = P[:3] + 0.05
    lse = engram.LSE(engram.DenseMemory(P), beta=1.0)
    drdam = engram.DrDAM(engram.DistributedMemory(
        engram.RandomFeatures(4, 5000, 1.0, seed=1, dtype="float64"), P))
    e, g = engram.mean_absolute_errors(lse, drdam, X)
    e1, g1 = lse.value_and_gradient(X)
    e2, g2 = drdam.value_and_gradient(X)
    assert e == pytest.approx(np.abs(e1 - e2).mean(), rel=1e-12)
    assert g == pytest.approx(np.linalg.norm(g1 - g2, axis=1).mean(), rel=1e-12)
    with pytest.raises(TypeError, match="float32"):
        engram.mean_absolute_errors(
            lse, engram.LSE(engram.DenseMemory(P.astype(np.float32)), beta=1.0), X)


def test_gaussian_mixture_density_and_samples():
    means = np.array([[0.0, 0.0], [3.0, 1.0]])
    g = engram.GaussianMixture(means, sigma=0.5)
    X = np.array([[0.1, -0.2], [2.0, 2.0]])
    d2 = ref.sq_dist(means, X)
    expected = ref.logsumexp(-d2 / (2 * 0.25), 1) - np.log(2) - np.log(2 * np.pi * 0.25)
    np.testing.assert_allclose(g.log_density(X), expected, rtol=1e-12)
    s = g.sample(4000, seed=1)
    assert s.shape == (4000, 2)
    # Half the samples around each mean: the sample mean is (1.5, 0.5) within a few standard
    # errors (spread ~ 1.5 along x: 1.5 / sqrt(4000) = 0.024).
    np.testing.assert_allclose(s.mean(0), [1.5, 0.5], atol=0.1)


def write_idx(path, array):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_idx_files_are_read_and_bad_ones_raise_os_error(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    write_idx(tmp_path / "images.gz", images)
    read = engram.read_idx_images(str(tmp_path / "images.gz"))
    assert read.dtype == np.float32 and read.shape == (2, 12)
    np.testing.assert_allclose(read, images.reshape(2, 12) / 255.0, rtol=1e-7)
    assert engram.read_idx_images(str(tmp_path / "images.gz"), dtype="float64").dtype == np.float64
    assert engram.read_idx_images(str(tmp_path / "images.gz"), max_items=1).shape == (1, 12)
    write_idx(tmp_path / "labels.gz", np.array([3, 1, 4], np.uint8))
    assert engram.read_idx_labels(str(tmp_path / "labels.gz")).tolist() == [3, 1, 4]
    with pytest.raises(OSError, match="missing.gz"):
        engram.read_idx_images(str(tmp_path / "missing.gz"))
    with open(tmp_path / "short.gz", "wb") as f:
        f.write(gzip.compress(b"\x00\x00\x08\x03\x00\x00\x00\x02"))
    with pytest.raises(OSError):
        engram.read_idx_images(str(tmp_path / "short.gz"))
    with pytest.raises(OSError, match="label"):
        engram.read_idx_labels(str(tmp_path / "images.gz"))


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_is_read():
    images = engram.read_idx_images(f"{FASHION}/t10k-images-idx3-ubyte.gz", max_items=100)
    labels = engram.read_idx_labels(f"{FASHION}/t10k-labels-idx1-ubyte.gz", max_items=100)
    assert images.shape == (100, 784) and labels.shape == (100,)
    assert 0.0 <= images.min() and images.max() == 1.0 and set(labels) <= set(range(10))


def test_png_grids_are_written(tmp_path):
    images = np.linspace(0, 1, 2 * 16).reshape(2, 16)
    path = tmp_path / "grid.png"
    engram.write_png_grid(str(path), images, height=4, width=4, zoom=2)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # IHDR: width = 2 images x 4 px x zoom 2 + padding, height = 4 x 2 + padding.
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (2 * 8 + 3 * 2, 8 + 2 * 2)
    with pytest.raises(ValueError, match=r"\(2, 16\).*D = 9"):
        engram.write_png_grid(str(path), images, height=3, width=3)
    with pytest.raises(OSError):
        engram.write_png_grid(str(tmp_path / "no" / "such" / "dir.png"), images, height=4, width=4)


def test_memories_are_saved_and_loaded(tmp_path):
    rng = np.random.default_rng(1)
    P = rng.standard_normal((7, 5)).astype(np.float32)
    dense = engram.DenseMemory(P)
    dense.save(str(tmp_path / "dense.engram"))
    loaded = engram.DenseMemory.load(str(tmp_path / "dense.engram"))
    assert loaded.dtype == "float32"
    np.testing.assert_array_equal(loaded.patterns, P)
    assert engram.DenseMemory.load(str(tmp_path / "dense.engram"), dtype="float64").dtype == \
        "float64"
    phi = engram.RandomFeatures(5, 64, 0.5, seed=3, map="exp_exp", storage="on_demand")
    tensor = engram.DistributedMemory(phi, P, keep_readout=True)
    tensor.save(str(tmp_path / "tensor.engram"))
    back = engram.DistributedMemory.load(str(tmp_path / "tensor.engram"))
    assert back.features.map == "exp_exp" and len(back) == 7
    np.testing.assert_array_equal(back.tensor, tensor.tensor)
    np.testing.assert_array_equal(back.readout, tensor.readout)
    np.testing.assert_array_equal(back.features.omega, phi.omega)
    with pytest.raises(ValueError, match="DistributedMemory.load"):
        engram.DenseMemory.load(str(tmp_path / "tensor.engram"))
    with pytest.raises(ValueError, match="DenseMemory.load"):
        engram.DistributedMemory.load(str(tmp_path / "dense.engram"))
    data = bytearray((tmp_path / "dense.engram").read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "corrupt.engram").write_bytes(bytes(data))
    with pytest.raises(OSError, match="CRC"):
        engram.DenseMemory.load(str(tmp_path / "corrupt.engram"))
    with pytest.raises(OSError):
        engram.DenseMemory.load(str(tmp_path / "absent.engram"))
    with pytest.raises(OSError):
        dense.save(str(tmp_path / "no" / "such" / "dir.engram"))


def test_philox_streams_are_counter_based():
    rng = engram.Philox(7)
    u = rng.uniform((3, 4), stream=2)
    assert u.shape == (3, 4) and u.dtype == np.float64
    assert np.all((u > 0) & (u <= 1))
    # Entry k of a stream is the same number however it is asked for: by shape, by offset,
    # from another object of the same seed, and rounded to float32 in a float32 array.
    np.testing.assert_array_equal(u.ravel(), engram.Philox(7).uniform(12, stream=2))
    np.testing.assert_array_equal(rng.uniform(5, stream=2, offset=7), u.ravel()[7:])
    np.testing.assert_array_equal(rng.uniform(12, stream=2, dtype="float32"),
                                  u.ravel().astype(np.float32))
    assert not np.array_equal(rng.uniform(12, stream=3), u.ravel())
    np.testing.assert_allclose(rng.uniform(4, stream=2, lo=-1.0, hi=3.0),
                               -1.0 + 4.0 * u.ravel()[:4], rtol=1e-15)
    z = rng.normal(100000, stream=0)
    # Standard normals: mean within 5 standard errors (1/sqrt(1e5) = 0.003), variance within
    # 5 of its standard errors (sqrt(2/1e5) = 0.0045).
    assert abs(z.mean()) < 0.016 and abs(z.var() - 1) < 0.023
    np.testing.assert_array_equal(rng.normal(6, stream=0, offset=4), z[4:10])
    with pytest.raises(ValueError, match="empty"):
        rng.uniform(3, stream=0, lo=1.0, hi=1.0)


def test_philox_refuses_shapes_beyond_memory():
    with pytest.raises(ValueError, match="2\\^40"):
        engram.Philox(1).uniform((2**32, 2**32), stream=0)
    with pytest.raises(ValueError, match="9223372036854775808"):
        engram.Philox(1).normal((2**63, 4), stream=0)
