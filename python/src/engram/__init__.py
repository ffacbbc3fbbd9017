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

__all__ = [name for name in dir(_engram) if not name.startswith("_")]
__version__ = "0.1.0"
