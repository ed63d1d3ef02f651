"""A tensor LR written in place by WarmupScheduler never makes a compiled optimizer step recompile.

Two patterns: ``opt.step`` compiled alone (the scheduler steps outside), and ``opt.step();
sched.step()`` compiled together (torch's recipe "compiling the optimizer with an LR scheduler").

The test compiles with ``backend="eager"``: recompiles are decided by Dynamo's guards,
which are the same for every backend, and the eager backend skips Inductor's C++
build (about 70 s for this 4x4 Adam step on a 2-core CPU, measured with torch
2.13; the 1000 compiled steps then take about 1 s and recompile 0 times, as here).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from rampup.torch import WarmupScheduler

SPEC = "linear(500) -> cosine(floor=0.1)"


def _train(
    lr: Any, steps: int, compiled: bool, together: bool = False
) -> tuple[torch.nn.Linear, list[float], tuple[int, int]]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 4)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = WarmupScheduler(opt, SPEC, total_steps=1000)
    x = torch.randn(8, 4)

    def opt_step() -> None:
        opt.step()

    def opt_and_sched_step() -> None:
        opt.step()
        sched.step()

    fn = opt_and_sched_step if together else opt_step
    step = torch.compile(fn, backend="eager") if compiled else fn
    lrs = []
    warm = (0, 0)
    for i in range(steps):
        if i == 2:  # after the first compile and the first LR change
            warm = (counters["stats"]["unique_graphs"], counters["frames"]["total"])
        lrs.append(float(opt.param_groups[0]["lr"]))
        model(x).square().sum().backward()
        step()
        opt.zero_grad()
        if not together:
            sched.step()
    return model, lrs, warm


@pytest.mark.parametrize("together", [False, True], ids=["opt_step", "opt_step_and_sched_step"])
def test_tensor_lr_1000_steps_zero_recompiles(together: bool) -> None:
    torch._dynamo.reset()
    counters.clear()
    lr = torch.tensor(1e-2)
    with torch._dynamo.config.patch(error_on_recompile=True):
        model, lrs, warm = _train(lr, 1000, compiled=True, together=together)
    assert warm == (1, counters["frames"]["total"]) and counters["stats"]["unique_graphs"] == 1
    assert "recompiles" not in counters or not counters["recompiles"]
    assert len(set(lrs)) > 900  # the LR really changed at (almost) every step
    # The compiled step read the in-place LR: same weights as an eager run.
    ref, ref_lrs, _ = _train(torch.tensor(1e-2), 1000, compiled=False)
    assert lrs == ref_lrs
    torch.testing.assert_close(model.weight, ref.weight, rtol=1e-4, atol=1e-6)  # op order differs in float32
    torch._dynamo.reset()


def test_the_counters_do_see_a_recompile() -> None:
    # Control: a float LR that changes is a new constant for Dynamo (one recompile
    # before it is made dynamic), so the check above can fail.
    torch._dynamo.reset()
    counters.clear()
    _train(1e-2, 4, compiled=True)
    assert counters["stats"]["unique_graphs"] >= 2
    torch._dynamo.reset()


def test_scheduler_step_outside_compile_is_unchanged() -> None:
    # The compile checks in step() must not change the eager path: same LRs as the closed form.
    import rampup

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = WarmupScheduler(opt, SPEC, total_steps=1000)
    got = []
    for _ in range(1000):
        got.append(opt.param_groups[0]["lr"])
        sched.step()
    assert got == [0.5 * v for v in rampup.parse(SPEC, total_steps=1000)(range(1000)).tolist()]


def test_importing_the_scheduler_does_not_import_dynamo() -> None:
    # The in-compile path is wrapped lazily: a run that never compiles does not pay Dynamo's import (~3 s).
    import subprocess
    import sys

    code = "import sys, rampup.torch.scheduler; print('torch._dynamo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_inductor_opt_step_and_sched_step_together_one_graph() -> None:
    # One real Inductor build (~8 s on a 2-core CPU for this small SGD step; Adam's takes ~70 s):
    # the pattern of torch's recipe compiles once and gives the eager run's LRs and weights.
    def run(compiled: bool) -> tuple[list[float], torch.Tensor]:
        p = torch.nn.Parameter(torch.zeros(4))
        opt = torch.optim.SGD([p], lr=torch.tensor(0.1))
        sched = WarmupScheduler(opt, "linear(5) -> cosine", total_steps=50)

        @torch.no_grad()
        def sgd_step() -> None:
            for g in opt.param_groups:
                for q in g["params"]:
                    q.sub_(q.grad * g["lr"])

        def both() -> None:
            sgd_step()
            sched.step()

        fn = torch.compile(both, backend="inductor") if compiled else both
        lrs = []
        for i in range(30):
            p.grad = torch.full((4,), float(i + 1))
            lrs.append(float(opt.param_groups[0]["lr"]))
            fn()
        return lrs, p.detach().clone()

    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):
        lrs, weights = run(compiled=True)
    assert counters["stats"]["unique_graphs"] == 1
    ref_lrs, ref_weights = run(compiled=False)
    assert lrs == ref_lrs and len(set(lrs)) == 30
    torch.testing.assert_close(weights, ref_weights, rtol=1e-6, atol=0)
    torch._dynamo.reset()
