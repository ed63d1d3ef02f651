"""The Keras tests run on the JAX backend, which Keras reads from KERAS_BACKEND at its first import."""

from __future__ import annotations

import os
import sys

if "keras" not in sys.modules:
    os.environ["KERAS_BACKEND"] = "jax"
