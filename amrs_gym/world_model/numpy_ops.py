"""The numpy operations of the fast rollout path.

Layer norm, exact GELU, softmax, sigmoid, and a single-threaded BLAS context for batched steps (at
these sizes dispatch, not arithmetic, is the cost). GELU and softmax can also run torch's
vectorised kernels on the same arrays, for catalog-wide scoring (`vectorised=True`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

EPS = 1e-5  # LayerNorm epsilon (torch default)
_THREADPOOLS = ThreadpoolController()


def single_threaded_blas(batch: int) -> AbstractContextManager[object]:
    """A fresh context that runs BLAS on one thread for batches big enough to wake its workers.

    `batch` is the rows of the largest product. At these sizes the workers only add contention (a
    256x64 @ 64x128 product: 7.8 ms on 2 threads of a busy machine, 84 us on one), and once woken
    an OpenBLAS worker spins on its core between calls: two benchmark processes whose greedy
    searches (8 sessions x the catalog) ran unlimited each took 5 times as long as alone (29 s
    against 5.8 s). Small batches skip the switch, which itself costs about 70 us. The limit
    applies when the context is created: use each one in a single `with`.
    """
    return _THREADPOOLS.limit(limits=1, user_api="blas") if batch >= 16 else nullcontext()


# ufunc reductions are called directly: ndarray.mean/.max/.sum add Python-level wrappers that
# cost more than the arithmetic at these sizes.
_sum, _max = np.add.reduce, np.maximum.reduce


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Layer norm over the last axis, as torch's `LayerNorm` with epsilon `EPS`.

    The operations and their order are the textbook ones; only temporaries are reused.
    """
    inverse = np.float32(1.0 / x.shape[-1])
    centred = x - _sum(x, -1, keepdims=True) * inverse
    scale = _sum(centred * centred, -1, keepdims=True)
    scale *= inverse
    scale += EPS
    np.sqrt(scale, out=scale)
    centred /= scale
    centred *= weight
    centred += bias
    return centred


_ERF_P = np.float32(0.3275911)
_ERF_A = [
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
]


def _erf(x: np.ndarray) -> np.ndarray:
    """Erf by Abramowitz & Stegun 7.1.26 (max error 1.5e-7).

    ~8x faster than scipy's on these arrays.
    """
    z = np.abs(x)
    t = z * _ERF_P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _ERF_A[0]
    for a in _ERF_A[1:]:
        poly += a
        poly *= t
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    # in place throughout: on the greedy agent's (sessions x catalog) batches this halves the time
    poly *= z
    np.subtract(1.0, poly, out=poly)
    result: np.ndarray = np.copysign(poly, x, out=poly)
    return result


BLOCK = 32768
"""Values per block of a large `gelu` or `softmax`: a block's passes stay in the CPU's cache (numpy
GELU 2.5 times faster than one pass over the greedy agent's batches; 16,384 and 65,536 slower), and
torch runs an operation of at most this many values on one thread (its parallel grain)."""


def gelu(x: np.ndarray, vectorised: bool = False) -> np.ndarray:
    """Exact (erf) GELU, as torch's default: (0.5 x) (1 + erf(x / sqrt 2)).

    `vectorised`: torch's kernel (4.6 times faster on large arrays; torch is imported on first
    use), else numpy passes. The two agree to 5e-7 (float32 rounding). Elementwise, so computing
    a large array block by block changes no bit of the result.
    """
    if not vectorised and x.size <= BLOCK:
        return _gelu(x)  # an env step's arrays: no reshaping on the hot path
    flat = np.ascontiguousarray(x).reshape(-1)
    if vectorised:
        import torch.nn.functional as F

        return _in_blocks(_through_torch(F.gelu), flat, BLOCK).reshape(x.shape)
    return _in_blocks(_gelu, flat, BLOCK).reshape(x.shape)


def _gelu(x: np.ndarray) -> np.ndarray:
    result = _erf(x * np.float32(0.7071067811865476))
    result += 1.0
    result *= 0.5 * x
    return result


def softmax(x: np.ndarray, vectorised: bool = False) -> np.ndarray:
    """Softmax over the last axis; `vectorised`: torch's kernel (twice as fast on large arrays)."""
    if not vectorised:
        e = x - _max(x, -1, keepdims=True)
        np.exp(e, out=e)
        e /= _sum(e, -1, keepdims=True)
        return e
    import torch

    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    kernel = _through_torch(lambda t: torch.softmax(t, -1))
    return _in_blocks(kernel, rows, max(1, BLOCK // x.shape[-1])).reshape(x.shape)


def _in_blocks(
    operation: Callable[[np.ndarray], np.ndarray], x: np.ndarray, step: int
) -> np.ndarray:
    """`operation` on `x`, `step` rows at a time (one call when `x` fits in one)."""
    if len(x) <= step:
        return operation(x)
    result = np.empty_like(x)
    for start in range(0, len(x), step):
        result[start : start + step] = operation(x[start : start + step])
    return result


def _through_torch(operation: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
    """A torch `operation` applied to a numpy array through views (no copies in or out)."""
    import torch

    return lambda x: operation(torch.from_numpy(x)).numpy()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, elementwise."""
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result
