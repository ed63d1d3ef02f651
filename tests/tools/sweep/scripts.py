"""The train script the sweep tests load from a file (SCRIPT, the ``script`` fixture) and ``calls``, which counts its
runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# A train script the workers load from its file: records every call (to count reruns), can fail or crash a trial.
SCRIPT = textwrap.dedent(
    """
    import os, json, time
    from rampup.tools.sweep import synthetic_train

    def train(config):
        with open(config["calls"], "a") as f:
            f.write(config["trial"] + "\\n")
        if config["seed"] in config.get("fail_seeds", []) and config["warmup"] == config.get("fail_warmup"):
            raise RuntimeError("injected failure")
        if config["seed"] in config.get("crash_seeds", []) and config["warmup"] == config.get("crash_warmup"):
            os._exit(3)  # a worker that dies (segfault, OOM kill)
        if config.get("crash_once") == config["warmup"] and not os.path.exists(config["calls"] + ".crashed"):
            open(config["calls"] + ".crashed", "w").close()
            os.kill(os.getpid(), 9)  # killed once (the OOM killer), fine when retried
        t0 = time.monotonic()
        while config.get("hold") == config["warmup"] and not os.path.exists(config["release"]):
            time.sleep(0.02)  # a long trial, until the test releases it
            assert time.monotonic() - t0 < 60
        out = synthetic_train(config)
        out["omp"] = os.environ.get("OMP_NUM_THREADS")
        if config.get("nan"):
            out["loss"] = float("nan")
        return out

    def other(config):
        return {"loss": 1.0}
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    p = tmp_path / "train.py"
    p.write_text(SCRIPT)
    return p


def calls(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
