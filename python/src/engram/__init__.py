"""engram: dense associative memories (modern Hopfield networks), from numpy.

Patterns are (K, D) and states (B, D) arrays, one row per sample, float32 or float64. A
C-contiguous array of the energy's dtype is read in place; other layouts and exactly
convertible dtypes are copied once; a lossy conversion (float64 data for a float32 memory) is
refused with TypeError. engram's errors arrive as ValueError (bad arguments),
FloatingPointError (NaN or infinity) and OSError (files).
"""

from . import _engram
from ._engram import *  # noqa: F401,F403
from ._engram import stop


def mean_absolute_errors(reference, approximation, queries):
    """[DrDAM] eq. 14: (mean_b |E_b - E^_b|, mean_b ||grad E_b - grad E^_b||) over the rows of
    queries (B, D), for two energies of one dtype (say LSE and DrDAM over the same patterns).

    Computed from each energy's value_and_gradient, as engram::mean_absolute_errors does in
    C++; non-finite energies raise FloatingPointError.
    """
    import numpy as np

    if reference.dtype != approximation.dtype:
        raise TypeError(
            f"reference computes in {reference.dtype} and approximation in "
            f"{approximation.dtype}; build both over memories of one dtype"
        )
    e1, g1 = reference.value_and_gradient(queries)
    e2, g2 = approximation.value_and_gradient(queries)
    for name, e in (("reference", e1), ("approximate", e2)):
        if not np.all(np.isfinite(e)):
            raise FloatingPointError(f"{name} energies are not all finite")
    return float(np.abs(e1 - e2).mean()), float(np.linalg.norm(g1 - g2, axis=1).mean())


__all__ = [name for name in dir(_engram) if not name.startswith("_")] + ["mean_absolute_errors"]
__version__ = "0.1.0"
