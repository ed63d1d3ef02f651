"""test_compare.py's training runs take the torch-layer tests' one-thread fixture (tests/torch/conftest.py)."""

from tests.torch.conftest import one_thread  # noqa: F401  (autouse: applies to every test here)
