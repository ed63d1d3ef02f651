"""Data for the reference experiments: nothing is downloaded.

* The **stdlib corpus**: the top-level standard-library modules of the running
  Python (``sorted(glob(stdlib + "/*.py"))``), concatenated as bytes, the first
  2,000,000 bytes, vocabulary = the 256 byte values, split contiguously 90/10
  into train/validation.  It differs between Python versions, so every result
  records :attr:`Corpus.python` and :attr:`Corpus.sha256`.
* **Digits**: ``sklearn.datasets.load_digits`` (1,797 8×8 images bundled with
  scikit-learn), stratified 70/30 split.

Batches come from a generator seeded with ``data_seed``, apart from the model's
seed: every arm of a comparison sees the same data in the same order.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..support.optional import require

__all__ = [
    "CORPUS_BYTES",
    "Corpus",
    "Digits",
    "lm_batch_starts",
    "load_corpus",
    "load_digits",
    "reference_levels",
    "val_window_starts",
    "windows",
]

CORPUS_BYTES = 2_000_000
VOCAB = 256


@dataclass(frozen=True)
class Corpus:
    """A byte corpus split contiguously into ``train`` and ``val`` (uint8 arrays)."""

    train: np.ndarray
    val: np.ndarray
    sha256: str
    n_files: int
    n_bytes: int
    python: str
    part: str

    def info(self) -> dict[str, Any]:
        return {
            "source": "top-level stdlib modules of the running Python, sorted, concatenated",
            "python": self.python,
            "sha256": self.sha256,
            "n_files": self.n_files,
            "n_bytes": self.n_bytes,
            "part": self.part,
            "train_bytes": int(self.train.size),
            "val_bytes": int(self.val.size),
        }


@functools.lru_cache(maxsize=4)
def _corpus_bytes(n_bytes: int) -> tuple[bytes, int]:
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    if not files:
        raise ValueError(
            f"corpus: no *.py files under {sysconfig.get_paths()['stdlib']!r}; this Python has no stdlib sources"
        )
    chunks, size = [], 0
    for f in files:
        with open(f, "rb") as fh:
            chunks.append(fh.read())
        size += len(chunks[-1])
        if size >= n_bytes:
            break
    data = b"".join(chunks)[:n_bytes]
    if len(data) < n_bytes:
        raise ValueError(
            f"n_bytes: got {n_bytes}; this Python's stdlib has only {len(data)} bytes of top-level modules"
        )
    return data, len(files)


@functools.lru_cache(maxsize=8)
def load_corpus(n_bytes: int = CORPUS_BYTES, part: str = "all", val_fraction: float = 0.1) -> Corpus:
    """The stdlib byte corpus; ``part`` ``"a"``/``"b"`` = its first/second half, each split 90/10 itself.

    >>> c = load_corpus(100_000)
    >>> c.train.size, c.val.size
    (90000, 10000)
    """
    if part not in ("all", "a", "b"):
        raise ValueError(f"part: got {part!r}; accepted: 'all', 'a' (first half) or 'b' (second half)")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: got {val_fraction!r}; accepted: a number in (0, 1)")
    raw, n_files = _corpus_bytes(n_bytes)
    arr = np.frombuffer(raw, dtype=np.uint8)
    half = arr.size // 2
    sub = arr if part == "all" else (arr[:half] if part == "a" else arr[half:])
    n_train = round(sub.size * (1.0 - val_fraction))
    return Corpus(
        train=sub[:n_train],
        val=sub[n_train:],
        sha256=hashlib.sha256(raw).hexdigest(),
        n_files=n_files,
        n_bytes=n_bytes,
        python=platform.python_version(),
        part=part,
    )


def lm_batch_starts(n: int, steps: int, batch: int, seq_len: int, data_seed: int) -> np.ndarray:
    """Random window starts, shape ``(steps, batch)``, for windows of ``seq_len + 1`` bytes in an array of ``n``."""
    hi = n - seq_len - 1
    if hi <= 0:
        raise ValueError(f"seq_len: got {seq_len}; accepted: shorter than the data ({n} bytes) minus 1")
    return np.random.default_rng(data_seed).integers(0, hi + 1, size=(steps, batch))


def windows(data: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """``data[start : start + seq_len + 1]`` for every start, as an int64 array ``(*starts.shape, seq_len + 1)``."""
    return data[starts[..., None] + np.arange(seq_len + 1)].astype(np.int64)


def val_window_starts(n: int, n_windows: int, seq_len: int) -> np.ndarray:
    """``n_windows`` evenly spaced window starts over the validation bytes (the same for every run)."""
    return np.linspace(0, n - seq_len - 1, n_windows).astype(np.int64)


@functools.lru_cache(maxsize=8)
def reference_levels(n_bytes: int = CORPUS_BYTES, part: str = "all", alpha: float = 0.1) -> dict[str, float]:
    """Cross-entropies (nats/byte) of the validation bytes under simple models fit on the train bytes.

    ``uniform`` = ln 256; ``unigram`` and ``bigram`` use add-``alpha`` smoothed
    counts.  A transformer stuck at ``unigram`` has collapsed: it ignores context.
    """
    c = load_corpus(n_bytes, part)
    tr, va = c.train, c.val
    uni = np.bincount(tr, minlength=VOCAB).astype(np.float64) + alpha
    uni /= uni.sum()
    pairs = tr[:-1].astype(np.int64) * VOCAB + tr[1:]
    big = np.bincount(pairs, minlength=VOCAB * VOCAB).reshape(VOCAB, VOCAB).astype(np.float64) + alpha
    big /= big.sum(axis=1, keepdims=True)
    return {
        "uniform": float(np.log(VOCAB)),
        "unigram": float(-np.mean(np.log(uni[va]))),
        "bigram": float(-np.mean(np.log(big[va[:-1], va[1:]]))),
    }


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray  # (n, 1, 8, 8) float32, standardised with train statistics
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def info(self) -> dict[str, Any]:
        return {
            "source": "sklearn.datasets.load_digits, stratified 70/30 split (random_state=0)",
            "n_train": int(self.y_train.size),
            "n_test": int(self.y_test.size),
        }


@functools.lru_cache(maxsize=1)
def load_digits() -> Digits:
    """The 8×8 digits of scikit-learn (bundled, no download), stratified 70/30, standardised."""
    purpose = "the digits of experiments e3/e4b (bundled with scikit-learn)"
    datasets = require("sklearn.datasets", extra="experiments", purpose=purpose)
    train_test_split = require("sklearn.model_selection", extra="experiments", purpose=purpose).train_test_split
    d = datasets.load_digits()
    x = d.data.astype(np.float32).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    mu, sd = float(x_tr.mean()), float(x_tr.std())
    return Digits((x_tr - mu) / sd, y_tr, (x_te - mu) / sd, y_te)
