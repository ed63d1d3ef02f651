"""The ``rampup`` command line.

Every command takes schedule SPECs in the spec language (``rampup explain
--help`` shows examples).  Errors go to stderr with exit code 2 and no
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .experiments import cli as _experiment_cli

EXAMPLES = """\
examples:
  rampup curve "linear(10) -> cosine(floor=0.1)" --total-steps 100 --peak-lr 1 --json
  rampup explain "linear(2%) -> cosine(floor=0.1)" --total-steps 10000 --peak-lr 3e-4
  rampup plot "linear(500) -> cosine" "noam(d_model=512, warmup=4000)" --total-steps 20000 -o lr.png
  rampup explain "linear(500, start=1e-7) -> wsd(cooldown=10%, shape=1-sqrt)" --total-steps 20000
  rampup explain "untuned_linear(beta2=0.999) -> constant" --total-steps 5000
spec language: docs/spec-language.md (phases joined by '->', modifiers after '|')
"""

_SPEC_NOTE = "spec language: docs/spec-language.md (phases joined by '->', modifiers after '|')\n"

# Each subcommand's --help shows examples of that command only (the top-level --help keeps EXAMPLES).
EPILOGS: dict[str, str] = {
    "curve": """\
examples:
  rampup curve "linear(10) -> cosine(floor=0.1)" --total-steps 100 --peak-lr 1 --json
  rampup curve "linear(2%) -> cosine" --total-steps 10000 --peak-lr 3e-4 > lr.csv
  rampup curve "linear(1ep) -> cosine" --steps-per-epoch 500 --total-steps 5000
"""
    + _SPEC_NOTE,
    "explain": """\
examples:
  rampup explain "linear(2%) -> cosine(floor=0.1)" --total-steps 10000 --peak-lr 3e-4
  rampup explain "linear(500, start=1e-7) -> wsd(cooldown=10%, shape=1-sqrt)" --total-steps 20000
  rampup explain "untuned_linear(beta2=0.999) -> constant" --total-steps 5000 --json
"""
    + _SPEC_NOTE,
    "plot": """\
examples:
  rampup plot "linear(500) -> cosine" "noam(d_model=512, warmup=4000)" --total-steps 20000 -o lr.png
  rampup plot "linear(2%) -> cosine" "constant(2%, start=0.1) -> cosine" --total-steps 10000 \\
      --label gradual --label constant --logy -o warmups.svg
"""
    + _SPEC_NOTE,
    "bench": """\
examples:
  rampup bench curve                       # core evaluation speed on this machine
  rampup bench torch --json bench-torch.json
  rampup bench sweep --quick
""",
    "demo": """\
examples:
  rampup demo                              # reference experiments + plots into demo-output/
  rampup demo --out /tmp/demo --quick      # a fast smoke run
""",
    "experiment": """\
examples:
  rampup experiment e1                     # 3 seeds, into experiment-output/e1/
  rampup experiment e3 --seeds 5 --out runs/e3
  rampup experiment e4c --quick            # a tiny smoke test
""",
    "advise": """\
examples:
  rampup advise "linear(2%) -> cosine" --total-steps 10000 --optimizer adamw --beta2 0.95 --task pretrain
  rampup advise --config training_args.json --steps-per-epoch 1200 --task finetune
  rampup advise --total-steps 90ep --steps-per-epoch 5000 --warmup 5ep --optimizer sgd --batch-size 8192 \\
      --base-batch-size 256 --base-lr 0.1
  rampup advise --total-steps 1.2Btok --tokens-per-step 3.2M --warmup 1% --optimizer adamw --norm post --json
exit status: 0 no error finding, 1 an error finding (usable as a CI gate), 2 bad input
""",
    "sweep": """\
examples:
  rampup sweep --script train.py --warmup 0,0.5%,1%,2%,5% --seeds 3 --total-steps 1000
  rampup sweep --entry mypkg.train:run --warmup 0,100,500 --peak-lr 1e-3,3e-3 --out sweep-out
  rampup sweep --script examples/sweep_e1.py --warmup 0,5%,25% --backend ray --workers 4
""",
    "auto-compare": """\
examples:
  rampup auto-compare --quick              # tiny settings, 1 seed
  rampup auto-compare --tasks e1,e2 --seeds 3 --out auto-compare-out
  rampup auto-compare --methods update_abs50,loss --workers 2
""",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own errors: exit 2 like ours
        self.print_usage(sys.stderr)
        print(f"rampup: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _run_args(p: argparse.ArgumentParser, peak_default: float | None = 1.0) -> None:
    p.add_argument("--total-steps", type=int, default=None, help="optimizer steps in the run (needed for %% lengths)")
    p.add_argument("--peak-lr", type=float, default=peak_default, help="peak learning rate (default %(default)s)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="needed for lengths in epochs (3ep)")
    p.add_argument("--tokens-per-step", type=int, default=None, help="needed for lengths in tokens (10Mtok)")


def _schedule(spec: str, a: argparse.Namespace) -> Any:
    from . import parse

    return parse(spec, a.total_steps, a.peak_lr, a.steps_per_epoch, a.tokens_per_step)


def _need_total(sched: Any, a: argparse.Namespace) -> int:
    from .tools.explain import run_length

    # --total-steps, else the schedule's end, else a compat spec's own run length (hf:, torch:, ...)
    try:
        return run_length(sched, a.total_steps)
    except ValueError as e:
        if str(e).startswith("total_steps: this schedule is open-ended"):
            raise ValueError("--total-steps: this schedule is open-ended; pass --total-steps N") from None
        raise


# `rampup curve` evaluates and writes this many steps at a time: memory stays at a few MB whatever
# --total-steps is (a 10^9-step curve built as one JSON document needed ~100 bytes per step: ~19 GB).
_CURVE_CHUNK = 1 << 16


def _curve_chunks(n: int, every: int) -> Any:
    """The steps 0, every, 2·every, … < n, and the last step n − 1, as int64 arrays of ≤ _CURVE_CHUNK steps."""
    import numpy as np

    span = _CURVE_CHUNK * every
    for start in range(0, n, span):
        yield np.arange(start, min(n, start + span), every, dtype=np.int64)
    if n > 0 and (n - 1) % every:
        yield np.array([n - 1], dtype=np.int64)


def cmd_curve(a: argparse.Namespace) -> int:
    import numpy as np

    every = a.every
    if every < 1:
        raise ValueError(f"--every: got {every}; accepted: an int >= 1 (print every K-th step and the last one)")
    s = _schedule(a.spec, a)
    n = _need_total(s, a)  # at most 2**53 (the core refuses longer runs), so steps fit int64
    # Every value is checked before the first byte is written, so an error never leaves half a
    # document behind (evaluating is ~10x cheaper than formatting: the cost is small).
    for steps in _curve_chunks(n, every):
        lr = s(steps)
        bad = ~np.isfinite(lr)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{a.spec!r}: the schedule gives {float(lr[i])!r} at step {int(steps[i])}; accepted: finite values "
                "(this is a bug in rampup: please report the spec)"
            )
    out = sys.stdout
    try:
        if a.json:
            # The same text as json.dump({"step": [...], "lr": [...]}), written one chunk at a time.
            for key, head in (("step", '{"step": ['), ("lr", '], "lr": [')):
                out.write(head)
                sep = ""
                for steps in _curve_chunks(n, every):
                    vals = steps if key == "step" else s(steps)
                    out.write(sep + json.dumps(vals.tolist())[1:-1])
                    sep = ", "
            out.write("]}\n")
        else:
            out.write("step,lr\n")
            for steps in _curve_chunks(n, every):
                out.writelines(f"{i},{v!r}\n" for i, v in zip(steps.tolist(), s(steps).tolist()))
        out.flush()
    except BrokenPipeError:
        # `rampup curve ... | head`: the reader left.  Point stdout at /dev/null so that the flush at
        # exit does not print a second BrokenPipeError; main() exits 0.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
        raise
    return 0


def cmd_explain(a: argparse.Namespace) -> int:
    from .tools.explain import explain

    docs = []
    for spec in a.spec:
        s = _schedule(spec, a)
        e = explain(s, a.total_steps)
        docs.append(e)
    if a.json:
        json.dump([e.to_dict() for e in docs] if len(docs) > 1 else docs[0].to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(e.text() for e in docs))
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    from .tools.plot import plot_schedules, save_figure

    scheds = [_schedule(spec, a) for spec in a.spec]
    fig = plot_schedules(scheds, a.label or None, a.total_steps, title=a.title, logy=a.logy)
    save_figure(fig, a.output)
    print(f"wrote {a.output}")
    return 0


def _bench_monitor(quick: bool = False) -> dict[str, Any]:
    from .experiments.auto_bench import bench_monitor  # lazily: torch and the E1 model

    return bench_monitor(quick=quick)


def _format_monitor(r: dict[str, Any]) -> str:
    from .experiments.auto_bench import format_monitor

    return format_monitor(r)


def _benches() -> dict[str, Any]:
    """The bench targets: the tools' own, and the experiments' (added here, the layer that may import both)."""
    from .tools.bench import BENCHES, register_bench

    register_bench("monitor", _bench_monitor, _format_monitor)  # Monitor / AutoWarmup step-time overhead on E1
    return BENCHES


def cmd_bench(a: argparse.Namespace) -> int:
    from .tools.bench import run_bench

    _benches()
    print(run_bench(a.name, a.json, a.quick))
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .experiments.demo import run_demo

    return run_demo(a.out, quick=a.quick)


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _add_curve(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="schedule spec, e.g. 'linear(2%%) -> cosine(floor=0.1)'")
    _run_args(p)
    p.add_argument("--json", action="store_true", help='print {"step": [...], "lr": [...]} instead of CSV')
    p.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="K",
        help="print every K-th step (0, K, 2K, ...) and the last step; default 1 (every step). The output is "
        "streamed in chunks: memory stays bounded for any --total-steps",
    )


def _add_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="+", help="one or more schedule specs")
    _run_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="+", help="one or more schedule specs (overlaid)")
    _run_args(p)
    p.add_argument("-o", "--output", default="lr.png", help="image file (png, svg, pdf); default lr.png")
    p.add_argument("--label", action="append", help="legend label per spec (repeat)")
    p.add_argument("--title", default=None, help="title above the plot (default: none)")
    p.add_argument("--logy", action="store_true", help="log-scale LR axis")


def _add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted(_benches()), help="which benchmark")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument("--quick", action="store_true", help="smaller, faster run (tests)")


def _add_advise(p: argparse.ArgumentParser) -> None:
    from .tools.advisor import add_arguments

    add_arguments(p)


def cmd_advise(a: argparse.Namespace) -> int:
    from .tools.advisor import run_cli

    return run_cli(a)


def _add_sweep(p: argparse.ArgumentParser) -> None:
    from .tools.sweep import add_arguments

    add_arguments(p)


def cmd_sweep(a: argparse.Namespace) -> int:
    from .tools.sweep import run_cli

    return run_cli(a)


def _add_auto_compare(p: argparse.ArgumentParser) -> None:
    from .experiments.auto_compare import add_arguments  # torch is imported only when the command runs

    add_arguments(p)


def cmd_auto_compare(a: argparse.Namespace) -> int:
    from .experiments.auto_compare import cli

    return cli(a)


COMMANDS: list[Command] = [
    ("curve", "print the LR at steps 0..T-1 as CSV or JSON", _add_curve, cmd_curve),
    ("explain", "describe a schedule in words: first update, peak, floor, end, phases", _add_explain, cmd_explain),
    ("plot", "plot one or more schedules with peak and floor annotated", _add_plot, cmd_plot),
    (
        "bench",
        "run a benchmark (curve: core evaluation speed; torch: scheduler.step() cost vs HF/torch/timm/pytorch_warmup)",
        _add_bench,
        cmd_bench,
    ),
    ("demo", "the main job: reference experiments + plots into demo-output/", _add_demo, cmd_demo),
    ("experiment", _experiment_cli.HELP, _experiment_cli.add_experiment_arguments, _experiment_cli.cmd_experiment),
    ("advise", "check a warmup setup against the literature (exit 1 on an error finding)", _add_advise, cmd_advise),
    ("sweep", "sweep the warmup length (x peak LR x seeds) locally or on Ray", _add_sweep, cmd_sweep),
    ("auto-compare", "automatic warmups vs a sweep of fixed warmup lengths", _add_auto_compare, cmd_auto_compare),
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(
        prog="rampup",
        description="Learning-rate warmup that is correct, automatic and evident.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"rampup {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, helptext, add, fn in COMMANDS:
        sp = sub.add_parser(
            name,
            help=helptext,
            description=helptext,
            epilog=EPILOGS.get(name, EXAMPLES),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add(sp)
        sp.set_defaults(func=fn)
    return p


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A warning as one line, like the CLI's errors (no source line, no file path)."""
    print(f"rampup: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "func", None):
        parser.print_help()
        return 2
    from .tools.pool import interrupted_exit_code, signals_as_interrupts

    try:
        with warnings.catch_warnings(), signals_as_interrupts():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning  # restored when the block exits
            return int(a.func(a))
    except (ValueError, TypeError, ImportError) as e:
        print(f"rampup: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: one line and the shell's code; worker processes are gone
        print(f"rampup {a.command}: interrupted ({e or 'SIGINT'}); finished work is kept on disk", file=sys.stderr)
        return interrupted_exit_code(e)
    except BrokenPipeError:  # `rampup curve ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
