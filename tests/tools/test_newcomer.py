"""What a first-time user meets: `python -m rampup`, one-line warnings, readable plots (the demo's verdicts: tests/experiments/test_demo.py)."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rampup
from rampup.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_python_dash_m_rampup_is_the_cli() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "rampup", "curve", "linear(2) -> constant", "--total-steps", "3"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "step,lr\n0,0.5\n1,1.0\n2,1.0\n"


def test_the_rounding_warning_is_one_line_like_the_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["curve", "linear(0.1%) -> cosine", "--total-steps", "300"]) == 0
    err = capsys.readouterr().err
    assert err == (
        "rampup: warning: linear: length: '0.1%' is 0.3 steps, which rounds to 0 steps: that phase is skipped\n"
    )


def test_the_warning_format_does_not_leak_out_of_the_cli() -> None:
    import warnings

    before = warnings.showwarning
    assert main(["curve", "linear(0.1%) -> cosine", "--total-steps", "300"]) == 0
    assert warnings.showwarning is before


def test_every_plot_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = capsys.readouterr().out
    assert "--title TITLE         title above the plot (default: none)" in out


# --- plots ------------------------------------------------------------------------------------------

from rampup.tools import plot  # noqa: E402  (a broken module fails here; matplotlib is part of the dev set-up)


def _lines(fig: Any) -> list[Any]:
    return [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) > 2]


def test_plot_doctests() -> None:
    res = doctest.testmod(plot, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_peaks_1431x_apart_are_normalized_and_labelled() -> None:
    # The README's example: noam peaks at 7e-4 beside a curve peaking at 1; drawn raw it is a flat line at 0.
    a = rampup.parse("linear(2%) -> cosine", total_steps=20_000)
    b = rampup.parse("noam(d_model=512, warmup=4000)", total_steps=20_000)
    fig = plot.plot_schedules([a, b])
    ax = fig.axes[0]
    ys = [ln.get_ydata() for ln in _lines(fig)]
    assert [float(y.max()) for y in ys] == [1.0, pytest.approx(1.0)]  # both curves fill the axis
    assert float(ys[1][3999]) == pytest.approx(1.0) and float(ys[1][0]) == pytest.approx(1 / 4000)
    assert ax.get_ylabel() == "LR ÷ its own peak (peaks differ 1431×)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["linear(2%) -> cosine  (peak 1)", "noam(d_model=512, warmup=4000)  (peak 0.000699)"]
    texts = [t.get_text() for t in ax.texts]
    assert "peak 0.000699 @ 3999" in texts  # the annotations keep the real values


def test_close_peaks_stay_raw_and_normalize_can_be_forced() -> None:
    a = rampup.parse("linear(10) -> cosine", total_steps=100, peak_lr=1e-2)
    b = rampup.parse("linear(10) -> constant", total_steps=100, peak_lr=2e-3)  # 5x apart: readable raw
    fig = plot.plot_schedules([a, b])
    assert fig.axes[0].get_ylabel() == "learning rate"
    assert [float(ln.get_ydata().max()) for ln in _lines(fig)] == [pytest.approx(1e-2), pytest.approx(2e-3)]
    fig = plot.plot_schedules([a, b], normalize=True)
    assert fig.axes[0].get_ylabel() == "LR ÷ its own peak (peaks differ 5×)"
    c = rampup.parse("noam(d_model=512, warmup=40)", total_steps=100)
    assert plot.plot_schedules([a, c], normalize=False).axes[0].get_ylabel() == "learning rate"
    assert plot.plot_schedules([a, c], logy=True).axes[0].get_ylabel() == "learning rate"  # a log axis shows both
    with pytest.raises(TypeError, match=r"normalize: got 'yes'; accepted: None \(automatic\), True or False"):
        plot.plot_schedules([a], normalize="yes")  # type: ignore[arg-type]


def test_the_legend_sits_below_the_axes_never_over_the_warmup() -> None:
    a = rampup.parse("linear(100) -> cosine(floor=0.1)", total_steps=400, peak_lr=1e-2)
    fig = plot.plot_schedules([a, a, a, a], ["a", "b", "c", "d"])
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    assert box.y1 < ax.get_window_extent().y0  # entirely under the plotting area


# --- AutoWarmup: the end of the warmup is visible without configuring logging ------------------------


def _auto_run(**kw: Any) -> Any:
    torch = pytest.importorskip("torch")
    from rampup.torch import AutoWarmup, make_scheduler

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: two threads only contend (seconds instead of 0.1 s on a loaded machine)
    try:
        return _loop(torch, AutoWarmup, make_scheduler, **kw)
    finally:
        torch.set_num_threads(threads)


def _loop(torch: Any, AutoWarmup: Any, make_scheduler: Any, **kw: Any) -> Any:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(16, 8), torch.nn.Flatten(), torch.nn.Linear(32, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    wrapped = kw.pop("wrapped", False)
    sched = (
        make_scheduler(opt, "auto -> cosine(floor=0.1)", total_steps=40)
        if wrapped
        else AutoWarmup(opt, "auto -> cosine(floor=0.1)", total_steps=40, **kw)
    )
    if wrapped:
        sched.announce = False
    g = torch.Generator().manual_seed(1)
    for _ in range(40):  # a nanoGPT-style loop: random token batches, next-token loss
        x = torch.randint(0, 16, (8, 5), generator=g)
        loss = torch.nn.functional.cross_entropy(model(x[:, :4]), x[:, 4])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert sched.done
    return sched


def test_auto_warmup_end_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    sched = _auto_run()
    err = capsys.readouterr().err
    end = next(e for e in sched.events if e.get("event") == "warmup_end")
    assert err == (
        f"rampup: auto warmup (update) ends at step {end['step']} ({sched.warmup_steps} warmup steps): "
        f"{end['reason']} (AutoWarmup(announce=False) silences this line)\n"
    )
    assert sched.warmup_steps == end["step"] + 1 and 1 <= sched.warmup_steps <= 20  # envelope: half of 40


def test_auto_warmup_notice_opt_out_and_logging(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _auto_run(announce=False)
    _auto_run(wrapped=True)  # rampup.torch.make_scheduler("auto -> ...") returns the AutoWarmup: its attribute
    assert capsys.readouterr().err == ""
    with caplog.at_level("INFO", logger="rampup.auto"):  # logging configured: the line goes there only
        _auto_run()
    assert capsys.readouterr().err == ""
    assert [r.getMessage().startswith("auto warmup (update) ends at step") for r in caplog.records] == [True]
    with pytest.raises(TypeError, match="announce: got 'no'; accepted: True or False"):
        _auto_run(announce="no")


def test_make_demo_installs_only_what_the_demo_uses() -> None:
    # `make demo` must not build the 2.8 GB development stack: its stamp installs the package with the extras
    # the demo imports, and `make test`'s stamp builds on it in the same .venv.
    make = (ROOT / "Makefile").read_text()
    rules = {m.group(1): m.group(2) for m in __import__("re").finditer(r"(?m)^([$(). \w/-]+):([^\n]*)$", make)}
    assert rules["demo"].split() == ["$(DEMO_STAMP)"]
    assert rules["$(STAMP)"].split() == ["$(DEMO_STAMP)"]
    demo_recipe = make.split("$(DEMO_STAMP):", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in demo_recipe.splitlines() if "pip install" in line or "$(PIP) install" in line]
    assert len(installs) == 1 and installs[0].rstrip().endswith("-e '.[torch,plot,progress]'")
    assert " -q" not in installs[0]  # the set-up shows its progress
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {r.split(">")[0] for x in ("torch", "plot", "progress") for r in extras[x]} == {
        "torch",
        "matplotlib",
        "tqdm",
    }
