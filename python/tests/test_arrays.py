"""Arrays between numpy and engram: what is read in place, what is copied, what is refused, and
which Python exception each bad input raises."""

import gc
import threading

import numpy as np
import pytest

import engram
import reference as ref


def address(a):
    return a.__array_interface__["data"][0]


@pytest.fixture
def lse32():
    rng = np.random.default_rng(3)
    P = rng.standard_normal((20, 8)).astype(np.float32)
    return P, engram.LSE(engram.DenseMemory(P), beta=2.0)


def test_c_contiguous_batches_are_read_in_place():
    X = np.ones((5, 8), np.float32)
    assert engram.batch_address(X) == address(X)
    assert engram.batch_address(X, "float32") == address(X)
    Y = np.ones((5, 8))
    assert engram.batch_address(Y) == address(Y)
    # A block of whole rows of a C-contiguous array is itself C-contiguous: read in place.
    assert engram.batch_address(X[1:4]) == address(X[1:4]) == address(X) + 4 * 8
    # Read-only arrays too (nothing is written to an input).
    X.setflags(write=False)
    assert engram.batch_address(X) == address(X)


def test_other_layouts_and_exact_dtypes_are_copied():
    X = np.ones((5, 8), np.float32)
    assert engram.batch_address(np.asfortranarray(X)) != address(X)
    assert engram.batch_address(X[:, ::2]) != address(X)
    # float32 data read for a float64 energy is converted (exactly) into a new buffer.
    assert engram.batch_address(X, "float64") != address(X)


def test_copied_layouts_give_the_same_numbers(lse32):
    P, energy = lse32
    X = np.ascontiguousarray(P[:4] + 0.1)
    expected = energy.value(X)
    np.testing.assert_array_equal(energy.value(np.asfortranarray(X)), expected)
    wide = np.zeros((4, 16), np.float32)
    wide[:, ::2] = X
    np.testing.assert_array_equal(energy.value(wide[:, ::2]), expected)
    np.testing.assert_array_equal(energy.value(X.astype(np.float16).astype(np.float32)),
                                  energy.value(X.astype(np.float16)))
    # A list of Python floats is float64 data: refused for a float32 energy like any float64.
    with pytest.raises(TypeError, match="float64"):
        energy.value(X.tolist())
    wide_memory = engram.LSE(engram.DenseMemory(P.astype(np.float64)), beta=2.0)
    np.testing.assert_array_equal(wide_memory.value(X.tolist()), wide_memory.value(X))


def test_results_are_numpy_arrays_owning_engram_buffers(lse32):
    P, energy = lse32
    g = energy.gradient(P[:3])
    assert isinstance(g, np.ndarray) and g.flags.c_contiguous and g.shape == (3, 8)
    # The result wraps the buffer engram computed into (no copy): numpy does not own it.
    assert not g.flags.owndata
    g[0, 0] = 42.0  # and it is the caller's to change
    assert g[0, 0] == 42.0


def test_lossy_and_meaningless_dtypes_are_refused(lse32):
    P, energy = lse32
    with pytest.raises(TypeError, match=r"x has dtype float64.*float32.*astype"):
        energy.value(P.astype(np.float64))
    with pytest.raises(TypeError, match="dtype bool"):
        energy.value(np.ones((2, 8), bool))
    with pytest.raises(TypeError, match="complex"):
        energy.value(np.ones((2, 8), np.complex64))
    with pytest.raises(TypeError, match="int32"):
        engram.DenseMemory(np.full((2, 3), 2**24 + 1, np.int32), dtype="float32")
    with pytest.raises(TypeError, match="dtype is int8"):
        engram.DenseMemory(np.ones((2, 3)), dtype="int8")


def test_integers_convert_when_every_value_fits():
    assert engram.DenseMemory(np.array([[2**53, 1]])).dtype == "float64"
    with pytest.raises(TypeError, match="int64"):
        engram.DenseMemory(np.array([[2**53 + 1, 1]]))
    with pytest.raises(TypeError, match="int64"):
        engram.DenseMemory(np.array([[-(2**63), 1]]))
    m32 = engram.DenseMemory(np.zeros((1, 2), np.float32))
    assert engram.LSE(m32, beta=1.0).value([[2**24, 0]]).dtype == np.float32
    with pytest.raises(TypeError):
        engram.LSE(m32, beta=1.0).value([[2**24 + 1, 0]])


def test_shapes_are_checked(lse32):
    P, energy = lse32
    with pytest.raises(ValueError, match=r"2-D \(B, D\).*shape \(8,\).*\[None, :\]"):
        energy.value(P[0])
    with pytest.raises(ValueError, match=r"shape \(1, 20, 8\)"):
        energy.value(P[None])
    with pytest.raises(ValueError, match=r"\(3, 5\).*D = 8"):
        energy.value(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="at least one"):
        engram.DenseMemory(np.zeros((4, 0)))
    with pytest.raises(ValueError, match="D = 8"):
        engram.DenseMemory(P).add(np.zeros((2, 7), np.float32))


def test_non_finite_values_raise_floating_point_error(lse32):
    P, energy = lse32
    X = P[:2].copy()
    X[1, 3] = np.nan
    with pytest.raises(FloatingPointError, match="nan"):
        energy.value(X)
    X[1, 3] = np.inf
    with pytest.raises(FloatingPointError, match="inf"):
        energy.gradient(X)
    with pytest.raises(FloatingPointError):
        engram.DenseMemory(np.array([[1.0, np.inf]]))
    # Overflow of a linear-scaling quantity is reported, not returned as inf: the power
    # energy at huge states.
    big = engram.Power(engram.DenseMemory(np.full((2, 2), 1e100)), n=4)
    with pytest.raises(FloatingPointError, match="overflows"):
        big.value(np.full((1, 2), 1e100))


def test_bad_parameters_raise_value_error(lse32):
    P, _ = lse32
    memory = engram.DenseMemory(P)
    with pytest.raises(ValueError, match="beta is -1"):
        engram.LSE(memory, beta=-1.0)
    with pytest.raises(ValueError, match="support is 'grid'"):
        engram.LSR(memory, beta=1.0, support="grid")
    with pytest.raises(ValueError, match="n = 2, 3 and 4"):
        engram.Power(memory, n=5)
    with pytest.raises(ValueError, match="20"):
        memory.remove([20])
    with pytest.raises(ValueError):
        memory.remove([1, 1])


def test_an_empty_memory_refuses_to_evaluate():
    memory = engram.DenseMemory(np.zeros((1, 3)))
    memory.remove([0])
    with pytest.raises(ValueError, match="no patterns"):
        engram.LSE(memory, beta=1.0).value(np.zeros((1, 3)))


def test_the_gil_is_released_during_heavy_work():
    import time

    rng = np.random.default_rng(0)
    P = rng.standard_normal((20000, 64)).astype(np.float32)
    X = rng.standard_normal((512, 64)).astype(np.float32)
    energy = engram.LSE(engram.DenseMemory(P), beta=1.0)
    span, started, done = [], threading.Event(), threading.Event()

    def work():
        started.set()
        span.append(time.perf_counter())
        # Ten descent steps in one call: ten LSE evaluations of 512 x 20000 pairs, 0.1 s or more.
        engram.retrieve(energy, X, engram.GradientDescent(0.1), engram.stop.after(10))
        span.append(time.perf_counter())
        done.set()

    worker = threading.Thread(target=work)
    stamps = []
    worker.start()
    started.wait()
    while not done.is_set():
        stamps.append(time.perf_counter())
    worker.join()
    t0, t1 = span
    inside = [t0] + [t for t in stamps if t0 <= t <= t1] + [t1]
    longest = max(b - a for a, b in zip(inside, inside[1:]))
    # Had the call kept the GIL, this thread could not run between the call's start and its
    # return (no bytecode boundary inside it): one gap as long as the call. Released, it runs
    # all along, paused only by the OS scheduler sharing two cores with engram's threads.
    assert t1 - t0 > 0.02
    assert longest < 0.5 * (t1 - t0)


def test_repeated_errors_leave_the_energy_usable(lse32):
    P, energy = lse32
    for _ in range(100):
        with pytest.raises(ValueError):
            energy.value(np.zeros((2, 5), np.float32))
    gc.collect()
    # E is near 0 here (each row is a stored pattern): float32 rounding of log(1 + small) is
    # absolute, a few 1e-8; 1e-6 absolute leaves room.
    np.testing.assert_allclose(
        energy.value(P[:2]), ref.lse(P.astype(float), P[:2].astype(float), 2.0)[0], atol=1e-6
    )
