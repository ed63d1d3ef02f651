"""``rampup sweep``: the warmup length as a hyperparameter, swept in one command.

The grid is ``warmup × peak_lr × seeds``.  Each trial calls ``train_fn(config)``
with ::

    config = {"warmup": "1%", "peak_lr": 0.01, "seed": 0,
              "spec": "linear(1%) -> cosine(floor=0.1)",       # the spec this warmup implies
              "total_steps": 400, "warmup_steps": 4,          # when total_steps is given
              "trial": "3f2a…", **params}

and expects a dict of metrics back (``{"loss": 2.31, …}``).  Trials run in the
warm worker processes of :mod:`rampup.tools.pool` (default; one thread each;
they die with the sweep; ``workers=1``: in this process) or on Ray Tune
(``backend="ray"``, a local instance or a cluster at ``address``); the same
sweep runs unchanged on both, and a trial whose worker is killed is retried
once on both.

Results are appended to a JSONL file as trials finish — one line per trial,
written under an exclusive lock, flushed and fsynced — so an interrupted sweep
resumes without rerunning finished trials, and a failing trial is recorded with
its error without stopping the others.  The summary is a table (mean ± std
per warmup), the recommended warmup with its margin over the runner-up, and a
plot of the final metric vs warmup length (plus metric vs peak LR curves when
the LR is swept too).

>>> from rampup.tools.sweep import make_trials
>>> [t.config["spec"] for t in make_trials([0, "1%"], seeds=1, total_steps=1000)]
['cosine(floor=0.1)', 'linear(1%) -> cosine(floor=0.1)']
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import math
import os
import pickle
import platform
import socket
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "DEFAULT_SPEC",
    "SweepResult",
    "TrainFn",
    "Trial",
    "append_result",
    "check_metric",
    "load_results",
    "make_trials",
    "mean_pm_std",
    "summarize",
    "sweep",
    "synthetic_train",
]

DEFAULT_SPEC = "linear({warmup}) -> cosine(floor=0.1)"
BACKENDS = ("local", "ray")


# =========================================================================
# The train function: a callable, a script file or an importable entry point.
# =========================================================================


@dataclass(frozen=True)
class TrainFn:
    """A reference to the train function that every worker can load.

    ``script``: a Python file whose function ``function`` is called; its source
    travels with the reference (so a Ray worker on another machine needs no copy
    of the file), and it is executed once per worker under a private module name
    (its ``if __name__ == "__main__":`` block does not run).  ``entry``:
    ``"package.module:function"``, imported by name.  ``fn``: a picklable callable
    (defined at module level).
    """

    script: str | None = None
    function: str = "train"
    source: str | None = None
    entry: str | None = None
    fn: Any = None

    @staticmethod
    def of(train_fn: Any, function: str | None = None, load: bool = True) -> TrainFn:
        """``train_fn``: a callable, ``'train.py'``, ``'train.py:func'`` or ``'module:func'``.

        ``load=True`` runs the script (imports the module) here, so that a missing function fails now;
        ``load=False`` only reads and compiles it — the local backend checks it in its workers instead, which
        load it anyway, so that this process does not pay the script's imports (``torch``: seconds) first.
        """
        if isinstance(train_fn, TrainFn):
            return train_fn
        if callable(train_fn):
            main = sys.modules.get("__main__")
            if getattr(train_fn, "__module__", None) == "__main__" and not getattr(main, "__file__", None):
                raise TypeError(
                    f"train_fn: {train_fn!r} is defined interactively, where spawned worker processes cannot import "
                    "it; put it in a file and pass it (or 'file.py:function')"
                )
            try:
                pickle.dumps(train_fn)
            except Exception as e:
                raise TypeError(
                    f"train_fn: {train_fn!r} cannot be sent to worker processes ({e}); define it at module level "
                    "or pass 'script.py:function'"
                ) from None
            return TrainFn(fn=train_fn)
        if not isinstance(train_fn, str) or not train_fn.strip():
            raise TypeError(
                f"train_fn: got {train_fn!r}; accepted: a callable, 'train.py', 'train.py:function' or 'module:function'"
            )
        text = train_fn.strip()
        path, _, name = text.rpartition(":") if ":" in text and not os.path.exists(text) else (text, "", "")
        if path.endswith(".py") or os.path.exists(text):
            path = path or text
            if not os.path.isfile(path):
                raise ValueError(f"train_fn: script {path!r} does not exist; accepted: a path to a .py file")
            with open(path, encoding="utf-8") as f:
                source = f.read()
            ref = TrainFn(script=os.path.abspath(path), function=name or function or "train", source=source)
            if load:
                _load_script(ref)  # fail here, not in every trial, when the function is missing
            else:
                compile(source, path, "exec")  # a syntax error fails here all the same
            return ref
        if not name:
            raise ValueError(f"train_fn: got {text!r}; accepted: 'train.py', 'train.py:function' or 'module:function'")
        ref = TrainFn(entry=text)
        if load:
            ref.resolve()
        return ref

    def resolve(self) -> Callable[[dict[str, Any]], Any]:
        if self.fn is not None:
            return self.fn  # type: ignore[no-any-return]
        if self.script is not None:
            return _load_script(self)
        assert self.entry is not None
        mod_name, _, fn_name = self.entry.partition(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise ValueError(f"entry: cannot import {mod_name!r} ({e}); accepted: 'package.module:function'") from None
        fn = getattr(mod, fn_name, None)
        if not callable(fn):
            raise ValueError(f"entry: {mod_name!r} has no function {fn_name!r}")
        return fn  # type: ignore[no-any-return]

    def describe(self) -> str:
        if self.script is not None:
            return f"{self.script}:{self.function}"
        if self.entry is not None:
            return self.entry
        return f"{getattr(self.fn, '__module__', '?')}:{getattr(self.fn, '__qualname__', repr(self.fn))}"


_SCRIPTS: dict[str, Any] = {}  # per process: one execution of each script


def _load_script(ref: TrainFn) -> Callable[[dict[str, Any]], Any]:
    assert ref.script is not None and ref.source is not None
    key = hashlib.sha1((ref.script + "\0" + ref.source).encode()).hexdigest()[:12]
    mod = _SCRIPTS.get(key)
    if mod is None:
        name = f"_rampup_sweep_script_{key}"
        spec = importlib.util.spec_from_loader(name, loader=None, origin=ref.script)
        assert spec is not None
        mod = importlib.util.module_from_spec(spec)
        mod.__file__ = ref.script
        folder = os.path.dirname(ref.script)
        if folder not in sys.path:  # sibling modules of the script stay importable
            sys.path.insert(0, folder)
        sys.modules[name] = mod
        try:
            exec(compile(ref.source, ref.script, "exec"), mod.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
        _SCRIPTS[key] = mod
    fn = getattr(mod, ref.function, None)
    if not callable(fn):
        defined = sorted(
            k for k, v in vars(mod).items() if callable(v) and getattr(v, "__module__", "") == mod.__name__
        )
        raise ValueError(
            f"script {ref.script!r}: no function {ref.function!r}; it defines: {', '.join(defined) or 'no functions'} "
            "(pass --function NAME or 'script.py:NAME')"
        )
    return fn  # type: ignore[no-any-return]


# =========================================================================
# The grid.
# =========================================================================


@dataclass(frozen=True)
class Trial:
    key: str  # stable id: hash of (spec, peak_lr, seed, params)
    name: str  # human-readable: "warmup=1% peak_lr=0.01 seed=0"
    config: dict[str, Any]


def _warmup_text(w: Any) -> tuple[str, bool]:
    """The warmup value as spec length text, and whether it is zero (no warmup phase)."""
    from ..core.units import Length

    ln = Length.parse(w, "warmup")
    return str(ln), ln.value == 0


def _spec_for(template: str, warmup: str, zero: bool) -> str:
    from .. import Spec

    if "{warmup}" not in template:
        raise ValueError(
            f"spec: got {template!r}; accepted: a spec template with '{{warmup}}' where the warmup length goes, "
            f"e.g. {DEFAULT_SPEC!r}"
        )
    if zero:  # a 0-step warmup is no warmup phase at all
        sp = Spec.parse(template.replace("{warmup}", "1"))
        if sp.warmup is None:
            raise ValueError(f"spec: {template!r}: '{{warmup}}' must be the length of the warmup phase (the first one)")
        if len(sp.decay) > 1:  # a chain without a warmup has no text form: its first item would read as the warmup
            return str(Spec.parse(template.replace("{warmup}", "0")))
        return str(Spec(None, sp.decay, sp.modifiers))
    sp = Spec.parse(template.replace("{warmup}", warmup))
    return str(sp)


def _seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds: got {seeds!r}; accepted: a count (3 = seeds 0, 1, 2) or a list of ints")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds: got {seeds}; accepted: a count >= 1 or a list of ints")
        return list(range(seeds))
    if (
        isinstance(seeds, (list, tuple, range))
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: got {list(seeds)}, which repeats a seed; accepted: distinct ints")
        return list(seeds)
    raise TypeError(f"seeds: got {seeds!r}; accepted: a count (3 = seeds 0, 1, 2) or a non-empty list of ints")


def _lrs(peak_lr: Any) -> list[float | None]:
    if peak_lr is None:
        return [None]
    vals = [peak_lr] if isinstance(peak_lr, (int, float)) else list(peak_lr)
    out: list[float | None] = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"peak_lr: got {v!r}; accepted: finite numbers > 0 (or None: the train function's own)")
        out.append(float(v))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"peak_lr: got {vals!r}; accepted: a non-empty list of distinct numbers > 0")
    return out


def make_trials(
    warmup: Sequence[Any],
    peak_lr: Any = None,
    seeds: Any = 3,
    spec: str = DEFAULT_SPEC,
    total_steps: int | None = None,
    params: dict[str, Any] | None = None,
) -> list[Trial]:
    """The grid ``warmup × peak_lr × seeds`` as trials, in a stable order.

    ``warmup``: lengths in the spec language (``0``, ``100``, ``'0.5%'``, ``'2ep'``);
    0 means no warmup phase.  ``spec``: a template with ``{warmup}``.  With
    ``total_steps`` every spec is resolved now (errors surface before any trial
    runs) and the config gets ``total_steps`` and ``warmup_steps``.
    """
    from .. import parse

    if isinstance(warmup, (str, int)) or not isinstance(warmup, Sequence) or len(warmup) == 0:
        raise TypeError(f"warmup: got {warmup!r}; accepted: a non-empty list of lengths, e.g. [0, '0.5%', '1%', '2%']")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params: got {params!r}; accepted: a dict of fixed config values")
    params = dict(params or {})
    reserved = {"warmup", "peak_lr", "seed", "spec", "trial", "total_steps", "warmup_steps"} & set(params)
    if reserved:
        raise ValueError(f"params: {sorted(reserved)} are set by the sweep itself; accepted: other keys")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"params: must be JSON data (they are recorded with each trial): {e}") from None
    texts = [_warmup_text(w) for w in warmup]
    if len({t for t, _ in texts}) != len(texts):
        raise ValueError(f"warmup: got {list(warmup)!r}, which repeats a value; accepted: distinct lengths")
    lrs, seed_list = _lrs(peak_lr), _seeds(seeds)
    trials = []
    for text, zero in texts:
        spec_text = _spec_for(spec, text, zero)
        extra: dict[str, Any] = {}
        if total_steps is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warmup that rounds to 0 steps is a mistake in a sweep
                try:
                    sched = parse(spec_text, total_steps)
                except Warning as w:
                    raise ValueError(f"warmup: {text!r} is 0 steps of total_steps={total_steps} ({w})") from None
            extra = {"total_steps": total_steps, "warmup_steps": sched.warmup_steps}
        for lr in lrs:
            for seed in seed_list:
                ident = {"spec": spec_text, "peak_lr": lr, "seed": seed, "params": params, **extra}
                key = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
                name = f"warmup={text}" + (f" peak_lr={lr:g}" if lr is not None else "") + f" seed={seed}"
                cfg = {"warmup": text, "peak_lr": lr, "seed": seed, "spec": spec_text, **extra, "trial": key, **params}
                trials.append(Trial(key, name, cfg))
    return trials


# =========================================================================
# Results: one JSONL line per trial, appended under a lock.
# =========================================================================


def append_result(path: str, record: dict[str, Any]) -> None:
    """Append one record as one line: exclusive lock, one ``write``, flush, ``fsync``.

    Concurrent writers (two sweeps on one file, several drivers) never
    interleave; a line cut short by a crash is closed with a newline before the
    next record, so it stays one unreadable line (skipped with a warning on load).
    """
    line = (json.dumps(record, allow_nan=False, sort_keys=True) + "\n").encode("utf-8")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size:
                with open(path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: O_APPEND single writes, no advisory lock
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def load_results(path: str) -> list[dict[str, Any]]:
    """Every readable record of a results file (none if it does not exist); unreadable lines warn."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(
                    f"{path}:{i}: unreadable line skipped (cut short by a crash?)", RuntimeWarning, stacklevel=2
                )
                continue
            if isinstance(rec, dict) and "trial" in rec:
                out.append(rec)
    return out


def _jsonable(x: Any, nonfinite: list[str], where: str) -> Any:
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            nonfinite.append(where)
            return None
        return x
    if isinstance(x, dict):
        return {str(k): _jsonable(v, nonfinite, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v, nonfinite, f"{where}[{i}]") for i, v in enumerate(x)]
    item = getattr(x, "item", None)  # NumPy / torch / jax scalars
    if callable(item) and getattr(x, "ndim", 0) == 0:
        return _jsonable(item(), nonfinite, where)
    tolist = getattr(x, "tolist", None)
    if callable(tolist):
        return _jsonable(tolist(), nonfinite, where)
    raise TypeError(f"train_fn returned {type(x).__name__} at {where or 'the top level'}; accepted: JSON-like metrics")


# =========================================================================
# Running one trial (in a worker process, a Ray actor or in-process).
# =========================================================================


def _run_trial(ref: TrainFn, config: dict[str, Any], threads: int | None, backend: str) -> dict[str, Any]:
    if threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)  # tiny models: one thread per worker is fastest
    rec: dict[str, Any] = {
        "trial": config["trial"],
        "config": config,
        "backend": backend,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    t0 = time.perf_counter()
    try:
        fn = ref.resolve()
        out = fn(dict(config))
        if not isinstance(out, dict):
            raise TypeError(f"train_fn returned {type(out).__name__}; accepted: a dict of metrics like {{'loss': 2.3}}")
        nonfinite: list[str] = []
        rec["metrics"] = _jsonable(out, nonfinite, "")
        rec["nonfinite"] = nonfinite  # NaN/inf metrics (a diverged run) are stored as null and listed here
        rec["status"] = "ok"
        rec["error"] = None
    except Exception as e:
        rec.update(status="error", metrics={}, nonfinite=[], error=f"{type(e).__name__}: {e}")
        rec["traceback"] = traceback.format_exc(limit=20)
    rec["wall_s"] = time.perf_counter() - t0
    rec["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return rec


def _crash_record(t: Trial, msg: str, backend: str) -> dict[str, Any]:
    return {
        "trial": t.key,
        "config": t.config,
        "backend": backend,
        "status": "error",
        "metrics": {},
        "nonfinite": [],
        "error": msg,
        "wall_s": None,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _load(ref: TrainFn) -> None:
    ref.resolve()


def _ignore(*args: Any) -> None:
    pass


def _run_local(
    ref: TrainFn,
    trials: list[Trial],
    workers: int,
    threads: int | None,
    on_result: Callable[[Trial, dict[str, Any]], None],
) -> None:
    """``workers`` warm worker processes of :mod:`rampup.tools.pool` (``workers=1``: in this process, with the
    threads of a worker).  A trial that kills its worker is retried once, alone; a second
    death is recorded as its error (the pool's policy, the same as the Ray backend's)."""
    from .pool import run_tasks

    if workers > 1:
        # Each worker loads the train function before any trial is handed out (the imports it pays once, as it
        # must); an error in it (no such function, an ImportError) is raised here as TrainFn.of would raise it.
        # A worker that dies loading it is left to the trials, which record it.
        n = min(workers, len(trials))
        run_tasks(_load, [ref] * n, workers, _ignore, on_died=_ignore, threads=threads, noun="train function load")
    with _threads_here(threads) if workers == 1 else contextlib.nullcontext():
        run_tasks(
            functools.partial(_run_trial, ref, threads=threads, backend="local"),
            [t.config for t in trials],
            workers,
            lambda i, rec: on_result(trials[i], rec),
            on_died=lambda i, msg: on_result(trials[i], _crash_record(trials[i], msg, "local")),
            threads=threads,
            noun="trial",
        )


@contextmanager
def _threads_here(threads: int | None) -> Iterator[None]:
    """In-process trials get the threads of a worker (a small model on 2 busy cores runs many times slower with 2
    threads than with 1); a torch loaded before gets its thread count back afterwards."""
    if threads is None:
        yield
        return
    from .pool import thread_env

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        with thread_env(threads):  # a torch first imported by a trial starts with `threads` threads
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


# =========================================================================
# Summary: mean ± std per cell, the recommendation and its margin.
# =========================================================================


def mean_pm_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` with significant digits: the std to 2 of them, the mean to the same decimal place (5
    significant digits when the std is 0, e.g. one seed); scientific notation for magnitudes >= 1e6.

    >>> mean_pm_std(2.27591, 0.00403), mean_pm_std(0.0032154, 0.0000123), mean_pm_std(3.1503, 0.5216)
    ('2.2759 ± 0.0040', '0.003215 ± 0.000012', '3.15 ± 0.52')
    >>> mean_pm_std(0.0032154, 0.0), mean_pm_std(1234.5, 56.0), mean_pm_std(2.5e7, 3.1e5)
    ('0.0032154 ± 0', '1234 ± 56', '2.500e+07 ± 3.1e+05')
    """
    if mean is None or std is None:
        return "—"
    if not (math.isfinite(mean) and math.isfinite(std)):
        return f"{mean} ± {std}"
    if std == 0:
        return f"{mean:.5g} ± 0"
    if max(abs(mean), std) >= 1e6:
        digits = max(1, math.floor(math.log10(abs(mean))) - math.floor(math.log10(std)) + 1) if mean else 1
        return f"{mean:.{digits}e} ± {std:.1e}"
    decimals = max(0, 1 - math.floor(math.log10(std)))
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


@dataclass
class Cell:
    """All seeds of one (warmup, peak_lr) point."""

    warmup: str
    peak_lr: float | None
    warmup_steps: int | None
    n: int  # trials in the grid
    values: list[float]  # finite metric values of the successful trials
    failed: int  # trials that raised
    diverged: int  # trials whose metric is NaN/inf (or missing)
    pending: int  # not run yet

    @property
    def complete(self) -> bool:
        return len(self.values) == self.n

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        if not self.values:
            return None
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.update(mean=self.mean, std=self.std, complete=self.complete)
        return d


@dataclass
class SweepResult:
    metric: str
    mode: str
    cells: list[Cell]
    records: list[dict[str, Any]]
    recommended: Cell | None
    runner_up: Cell | None
    files: dict[str, str] = field(default_factory=dict)
    ran: int = 0  # trials run by this call (the rest were already in the results file)

    @property
    def margin(self) -> float | None:
        if self.recommended is None or self.runner_up is None:
            return None
        return abs(self.runner_up.mean - self.recommended.mean)  # type: ignore[operator]

    @property
    def margin_se(self) -> float | None:
        """Standard error of the difference of the two means (0 with a single seed)."""
        a, b = self.recommended, self.runner_up
        if a is None or b is None:
            return None
        return math.sqrt((a.std or 0.0) ** 2 / len(a.values) + (b.std or 0.0) ** 2 / len(b.values))

    def table(self) -> str:
        lrs = {c.peak_lr for c in self.cells}
        head = f"{'warmup':>10} {'steps':>7} " + (f"{'peak_lr':>9} " if lrs != {None} else "")
        head += f"{self.metric + ' mean ± std':>24} {'n':>3} {'failed':>6} {'diverged':>8}"
        lines = [head]
        for c in self.cells:
            ms = mean_pm_std(c.mean, c.std) if c.mean is not None else "—"
            mark = " *" if c is self.recommended else ""
            row = f"{c.warmup:>10} {c.warmup_steps if c.warmup_steps is not None else '':>7} "
            row += f"{c.peak_lr:>9.3g} " if lrs != {None} else ""
            row += f"{ms:>24} {len(c.values):>3} {c.failed:>6} {c.diverged:>8}"
            if c.pending:
                row += f"  ({c.pending} not run)"
            lines.append(row + mark)
        lines.append("")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        r, u = self.recommended, self.runner_up
        if r is None:
            return f"no recommendation: no warmup has a finite {self.metric} on every seed"
        at = f" at peak_lr {r.peak_lr:g}" if r.peak_lr is not None else ""
        text = f"recommended warmup: {r.warmup}{at} ({self.metric} {mean_pm_std(r.mean, r.std)}, n={len(r.values)})"
        if u is None:
            return text + "; no runner-up with every seed finite"
        margin, se = self.margin, self.margin_se
        assert margin is not None and se is not None
        noise = f"{margin / se:.1f} standard errors" if se > 0 else "single seed: no error estimate"
        within = "; within noise: run more seeds" if se > 0 and margin < 2 * se else ""
        at_u = f" at peak_lr {u.peak_lr:g}" if u.peak_lr is not None else ""
        shown = mean_pm_std(u.mean, u.std).partition(" ± ")[0]  # as precise as the table shows it
        gap = mean_pm_std(margin, se).partition(" ± ")[0]  # to the precision of its standard error
        return text + f"; margin over the runner-up {u.warmup}{at_u} ({shown}): {gap} ({noise}){within}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "cells": [c.to_dict() for c in self.cells],
            "recommended": self.recommended.to_dict() if self.recommended else None,
            "runner_up": self.runner_up.to_dict() if self.runner_up else None,
            "margin": self.margin,
            "margin_se": self.margin_se,
            "verdict": self.verdict(),
            "trials": len(self.records),
            "ran": self.ran,
            "files": dict(self.files),
        }


def check_metric(records: list[dict[str, Any]], metric: str) -> None:
    """Raise when trials finished but none returned ``metric`` (a misspelt ``--metric``): the message names the
    metrics they did return.  A trial that returns the metric as NaN/inf (a diverged run) has it."""
    ok = [r for r in records if r.get("status") == "ok" and isinstance(r.get("metrics"), dict)]
    if ok and not any(metric in r["metrics"] for r in ok):
        keys = sorted({k for r in ok for k in r["metrics"]})
        raise ValueError(
            f"metric: got {metric!r}, which the train function did not return ({len(ok)} finished trials); "
            f"accepted: one of the metrics it returned: {', '.join(keys) or 'none (it returned empty dicts)'}"
        )


def summarize(
    trials: list[Trial], records: list[dict[str, Any]], metric: str = "loss", mode: str = "min"
) -> SweepResult:
    """Group the records of ``trials`` into cells and pick the best warmup (all seeds finite, best mean)."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode: got {mode!r}; accepted: 'min' or 'max'")
    by_key = {r["trial"]: r for r in records}  # the last record of a trial wins (a retried failure)
    check_metric(list(by_key.values()), metric)
    cells: dict[tuple[str, float | None], Cell] = {}
    for t in trials:
        k = (t.config["warmup"], t.config["peak_lr"])
        c = cells.get(k)
        if c is None:
            c = cells[k] = Cell(t.config["warmup"], t.config["peak_lr"], t.config.get("warmup_steps"), 0, [], 0, 0, 0)
        c.n += 1
        rec = by_key.get(t.key)
        if rec is None:
            c.pending += 1
        elif rec.get("status") != "ok":
            c.failed += 1
        else:
            v = rec.get("metrics", {}).get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                c.values.append(float(v))
            else:
                c.diverged += 1
    ordered = list(cells.values())
    sign = 1.0 if mode == "min" else -1.0
    ranked = sorted((c for c in ordered if c.complete), key=lambda c: sign * c.mean)  # type: ignore[operator]
    best = ranked[0] if ranked else None
    runner = next((c for c in ranked[1:] if best is not None and c.warmup != best.warmup), None)
    mine = {t.key for t in trials}
    return SweepResult(metric, mode, ordered, [r for r in records if r["trial"] in mine], best, runner)


# =========================================================================
# Plot.
# =========================================================================


def plot_sweep(result: SweepResult, title: str | None = None) -> Any:
    """Final metric vs warmup length (every seed, mean ± std per peak LR); beside it, metric vs peak LR per
    warmup (LR-sensitivity curves, Wortsman et al. 2023) when the LR was swept."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'rampup[plot]'") from e
    warmups = list(dict.fromkeys(c.warmup for c in result.cells))
    lrs = list(dict.fromkeys(c.peak_lr for c in result.cells))
    two = len(lrs) > 1
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(12 if two else 7, 4.5), dpi=110, squeeze=False)
    ax = axes[0][0]
    xs = {w: i for i, w in enumerate(warmups)}
    finite = [v for c in result.cells for v in c.values]
    top = max(finite) if finite else 1.0
    for j, lr in enumerate(lrs):
        cs = [c for c in result.cells if c.peak_lr == lr]
        off = (j - (len(lrs) - 1) / 2) * 0.08
        label = f"peak_lr {lr:g}" if lr is not None else None
        mx = [xs[c.warmup] + off for c in cs if c.mean is not None]
        my = [c.mean for c in cs if c.mean is not None]
        sd = [c.std for c in cs if c.mean is not None]
        line = ax.errorbar(mx, my, yerr=sd, marker="o", capsize=3, lw=1.4, label=label)
        color = line[0].get_color()
        for c in cs:
            ax.scatter([xs[c.warmup] + off] * len(c.values), c.values, s=10, alpha=0.45, color=color)
            if c.failed + c.diverged:
                ax.scatter([xs[c.warmup] + off], [top], marker="x", s=40, color=color)
    for w in warmups:  # one note per warmup: how many of its trials failed or diverged
        bad = sum(c.failed + c.diverged for c in result.cells if c.warmup == w)
        if bad:
            ax.annotate(
                f"{bad} failed/diverged",
                (xs[w], top),
                fontsize=7,
                ha="center",
                textcoords="offset points",
                xytext=(0, 6),
            )
    if result.recommended is not None:
        ax.axvline(xs[result.recommended.warmup], color="0.5", lw=0.8, ls=":")
    ticks = []
    for w in warmups:
        first = _first(result.cells, w)
        ticks.append(w if first is None or first.warmup_steps is None else f"{w}\n({first.warmup_steps})")
    ax.set_xticks(range(len(warmups)), ticks)
    ax.set_xlabel("warmup length" + (" (steps)" if any(c.warmup_steps is not None for c in result.cells) else ""))
    ax.set_ylabel(f"final {result.metric}")
    ax.grid(alpha=0.3)
    if two or lrs != [None]:
        ax.legend(fontsize=7)
    ax.set_title(title or f"{result.metric} vs warmup length (dots: seeds; bars: mean ± std)", fontsize=9)
    if two:
        ax2 = axes[0][1]
        for w in warmups:
            pts = sorted(
                (float(c.peak_lr), float(c.mean), float(c.std or 0.0))
                for c in result.cells
                if c.warmup == w and c.mean is not None and c.peak_lr is not None
            )
            if not pts:
                continue
            x, y, s = (list(v) for v in zip(*pts))
            (ln,) = ax2.plot(x, y, marker="o", lw=1.4, label=f"warmup {w}")
            ax2.fill_between(
                x, [a - b for a, b in zip(y, s)], [a + b for a, b in zip(y, s)], color=ln.get_color(), alpha=0.15
            )
        ax2.set_xscale("log")
        ax2.set_xticks([lr for lr in lrs if lr is not None], [f"{lr:g}" for lr in lrs if lr is not None])
        ax2.minorticks_off()
        ax2.set_xlabel("peak learning rate")
        ax2.set_ylabel(f"final {result.metric}")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7)
        ax2.set_title("LR sensitivity per warmup (mean ± std)", fontsize=9)
    fig.tight_layout()
    return fig


def _first(cells: list[Cell], warmup: str) -> Cell | None:
    return next((c for c in cells if c.warmup == warmup), None)


# =========================================================================
# Progress.
# =========================================================================


class _Progress:
    """tqdm bar with ETA (``rampup[progress]``); plain lines on stderr when tqdm is missing."""

    def __init__(self, total: int, done: int, enabled: bool, metric: str) -> None:
        self.metric, self.enabled, self.done, self.total = metric, enabled, done, total
        self.bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(
                    total=total, initial=done, desc="sweep", unit="trial", dynamic_ncols=True, file=sys.stderr
                )
            except ImportError:
                print(f"sweep: {done}/{total} trials done (pip install tqdm for a progress bar)", file=sys.stderr)

    def update(self, name: str, rec: dict[str, Any]) -> None:
        self.done += 1
        v = rec.get("metrics", {}).get(self.metric)
        what = f"{self.metric}={v:.4g}" if isinstance(v, (int, float)) else rec.get("status", "?")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name}: {what}", refresh=False)
            self.bar.update(1)
        elif self.enabled:
            print(f"sweep: {self.done}/{self.total} {name}: {what}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# =========================================================================
# The entry point.
# =========================================================================


def sweep(
    train_fn: Any,
    warmup: Sequence[Any],
    peak_lr: Any = None,
    seeds: Any = 3,
    *,
    spec: str = DEFAULT_SPEC,
    total_steps: int | None = None,
    params: dict[str, Any] | None = None,
    metric: str = "loss",
    mode: str = "min",
    backend: str = "local",
    workers: int | None = 2,
    address: str | None = None,
    results: str = "sweep.jsonl",
    plot: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    threads_per_worker: int | None = 1,
    function: str | None = None,
) -> SweepResult:
    """Run ``train_fn(config)`` over ``warmup × peak_lr × seeds`` and summarize; see the module docstring.

    ``train_fn``: a module-level callable, ``'train.py'`` (its ``train``),
    ``'train.py:func'`` or ``'module:func'``.  ``seeds``: a count (3 → 0, 1, 2) or
    a list.  ``metric``/``mode``: which returned metric decides and whether lower
    (``'min'``) or higher is better.  ``backend``: ``'local'`` (``workers``
    warm worker processes, ``threads_per_worker`` threads each; 1: in this process) or ``'ray'`` (Ray Tune;
    ``address`` of a running cluster, or a local instance with ``workers`` CPUs).
    ``results``: the JSONL file; trials already recorded there are not rerun
    (failed ones are, with ``retry_failed=True``).  ``plot``: an image path.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> r = sweep(synthetic_train, ["0", "2%"], seeds=2, total_steps=1000, workers=1,
    ...           results=os.path.join(d, "s.jsonl"), progress=False)
    >>> r.recommended.warmup, len(r.records)
    ('2%', 4)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}; accepted: {', '.join(BACKENDS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers: got {workers!r}; accepted: an int >= 1")
    if workers is None and backend == "local":
        raise ValueError("workers: got None; accepted: an int >= 1 for the local backend")
    if address is not None and backend != "ray":
        raise ValueError(f"address: got {address!r} with backend {backend!r}; accepted: only with backend='ray'")
    if mode not in ("min", "max"):
        raise ValueError(f"mode: got {mode!r}; accepted: 'min' or 'max'")
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"metric: got {metric!r}; accepted: the name of a metric train_fn returns, e.g. 'loss'")
    if total_steps is not None and (
        isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1
    ):
        raise ValueError(f"total_steps: got {total_steps!r}; accepted: an int >= 1")
    # The local pool checks the train function in its workers, while they start (see _run_local).
    ref = TrainFn.of(train_fn, function, load=not (backend == "local" and workers is not None and workers > 1))
    trials = make_trials(warmup, peak_lr, seeds, spec, total_steps, params)
    records = load_results(results)
    done = {r["trial"] for r in records if r.get("status") == "ok" or not retry_failed}
    todo = [t for t in trials if t.key not in done]
    bar = _Progress(len(trials), len(trials) - len(todo), progress, metric)

    def on_result(t: Trial, rec: dict[str, Any]) -> None:
        rec["name"] = t.name
        rec["sweep"] = {"fn": ref.describe(), "spec": spec, "metric": metric}
        append_result(results, rec)
        records.append(rec)
        bar.update(t.name, rec)
        if rec.get("status") == "ok":
            check_metric(records, metric)  # stop at the first finished trial when --metric is misspelt

    try:
        if todo:
            if backend == "local":
                assert workers is not None
                _run_local(ref, todo, workers, threads_per_worker, on_result)
            else:
                from .sweep_ray import run_ray

                run_ray(
                    ref,
                    todo,
                    workers,
                    address,
                    threads_per_worker,
                    on_result,
                )
    finally:
        bar.close()
    out = summarize(trials, records, metric, mode)
    out.ran = len(todo)
    out.files["results"] = results
    if plot is not None:
        from .plot import save_figure

        save_figure(plot_sweep(out), plot)
        out.files["plot"] = plot
    return out


# =========================================================================
# A synthetic train function (docs, tests, benchmark).
# =========================================================================


def synthetic_train(config: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for a training run — **synthetic**, not a measurement.

    A closed-form response surface with the shape the warmup literature reports:
    a loss penalty for short warmups that grows with the peak LR (spikes; below
    ~0.2 % of the run one seed in three "collapses" at high LR), a small cost for
    long warmups (updates spent below the peak), an optimal LR that moves up with
    warmup (Wortsman et al. 2023), and seed noise.  It resolves ``config["spec"]``
    with ``rampup.parse`` to read the warmup length, so it exercises the same path
    as a real run.  ``config["work_s"]`` (default 0) burns that many CPU-seconds
    (pure Python: one thread), for benchmarks.

    >>> round(synthetic_train({"spec": "linear(2%) -> cosine", "total_steps": 1000, "seed": 0})["loss"], 3)
    2.276
    """
    import numpy as np

    from .. import parse

    total = int(config.get("total_steps") or 1000)
    sched = parse(config["spec"], total_steps=total)
    f = sched.warmup_steps / total
    lr = float(config.get("peak_lr") or 1e-2)
    rng = np.random.default_rng([int(config.get("seed", 0)), sched.warmup_steps, round(lr * 1e9)])
    s = lr / 1e-2
    spike = 0.6 * s * math.exp(-f / 0.003)
    collapse = 0.9 if (f < 0.002 and s >= 1.0 and rng.random() < 1 / 3) else 0.0
    best_log_lr = math.log10(1e-2) + 0.3 * min(f / 0.02, 1.0)
    lr_term = 0.15 * (math.log10(lr) - best_log_lr) ** 2
    loss = min(2.25 + spike + collapse + 0.6 * f + lr_term + 0.01 * float(rng.normal()), math.log(256))
    work = float(config.get("work_s", 0.0))
    if work > 0:
        t0 = time.process_time()
        x = 0.0
        while time.process_time() - t0 < work:
            for i in range(2000):
                x += i * 1e-9
    return {"loss": loss, "warmup_steps": sched.warmup_steps, "spike": spike, "collapsed": collapse > 0}


# =========================================================================
# CLI: rampup sweep.
# =========================================================================


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _parse_seeds(text: str) -> Any:
    if "," in text:
        try:
            return [int(x) for x in _split(text)]
        except ValueError:
            raise ValueError(f"--seeds: got {text!r}; accepted: a count (3) or a comma list of ints (0,1,7)") from None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--seeds: got {text!r}; accepted: a count (3) or a comma list of ints (0,1,7)") from None


def _parse_lrs(text: str) -> list[float]:
    try:
        return [float(x) for x in _split(text)]
    except ValueError:
        raise ValueError(f"--peak-lr: got {text!r}; accepted: a comma list of numbers, e.g. 1e-3,3e-3") from None


def _parse_set(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items or []:
        k, eq, v = it.partition("=")
        if not eq or not k.strip():
            raise ValueError(f"--set: got {it!r}; accepted: KEY=VALUE (VALUE read as JSON when it parses, else text)")
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def add_arguments(p: Any) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", help="Python file defining the train function (default name: train)")
    src.add_argument("--entry", help="importable train function, 'package.module:function'")
    p.add_argument("--function", default=None, help="name of the function in --script (default train)")
    p.add_argument(
        "--warmup", required=True, help="comma list of warmup lengths, e.g. 0,0.5%%,1%%,2%%,5%% or 0,100,500"
    )
    p.add_argument("--seeds", default="3", help="a count (3 = seeds 0,1,2) or a comma list (0,1,7); default 3")
    p.add_argument("--peak-lr", default=None, help="comma list of peak LRs to sweep too (default: the script's own)")
    p.add_argument("--spec", default=DEFAULT_SPEC, help="spec template with {warmup} (default %(default)s)")
    p.add_argument("--total-steps", type=int, default=None, help="run length: resolves %% warmups to steps up front")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config entry for every trial (repeat)")
    p.add_argument("--metric", default="loss", help="metric the train function returns that decides (default loss)")
    p.add_argument("--mode", choices=("min", "max"), default="min", help="lower or higher is better (default min)")
    p.add_argument("--backend", choices=BACKENDS, default="local", help="local worker processes or Ray Tune")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel trials (default 2; Ray: the cluster's CPUs, 2 for a local instance)",
    )
    p.add_argument(
        "--out", default="sweep-output", help="output folder: sweep.jsonl, summary.json, sweep.png, report.md"
    )
    p.add_argument("--retry-failed", action="store_true", help="rerun trials recorded as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_cli(a: Any) -> int:
    """``rampup sweep``: exit 0 when a warmup could be recommended, 1 when no warmup ran on every seed."""
    workers = a.workers if a.workers is not None else (2 if a.backend == "local" else None)
    os.makedirs(a.out, exist_ok=True)
    train = a.script if a.script is not None else a.entry
    if a.script is not None and a.function:
        train = f"{a.script}:{a.function}"
    results = os.path.join(a.out, "sweep.jsonl")
    try:
        res = _cli_sweep(a, train, workers, results)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM: the workers are gone, the finished trials are on disk
        from .pool import interrupted_exit_code

        n = len({r["trial"] for r in load_results(results)})
        print(
            f"rampup sweep: interrupted ({e or 'SIGINT'}); {n} finished trials are in {results}: "
            "run the same command to resume",
            file=sys.stderr,
        )
        return interrupted_exit_code(e)
    return _cli_summary(a, res, train)


def _cli_sweep(a: Any, train: str, workers: int | None, results: str) -> SweepResult:
    return sweep(
        train,
        _split(a.warmup),
        _parse_lrs(a.peak_lr) if a.peak_lr else None,
        _parse_seeds(a.seeds),
        spec=a.spec,
        total_steps=a.total_steps,
        params=_parse_set(a.set),
        metric=a.metric,
        mode=a.mode,
        backend=a.backend,
        workers=workers,
        address=a.address,
        results=results,
        plot=os.path.join(a.out, "sweep.png"),
        retry_failed=a.retry_failed,
        progress=not a.no_progress,
    )


def _cli_summary(a: Any, res: SweepResult, train: str) -> int:
    from ..support.io import atomic_write_text

    summary = os.path.join(a.out, "summary.json")
    res.files["summary"] = summary
    res.files["report"] = os.path.join(a.out, "report.md")
    atomic_write_text(summary, json.dumps(res.to_dict(), indent=2) + "\n")
    atomic_write_text(res.files["report"], report(res, train))
    if a.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        print(res.table())
        latest = {r["trial"]: r for r in res.records}  # a retried trial: its last record only
        failed = [r for r in latest.values() if r.get("status") != "ok"]
        for r in failed[:5]:
            print(f"failed: {r.get('name', r['trial'])}: {r.get('error')}")
        print(f"wrote {', '.join(res.files[k] for k in ('results', 'summary', 'plot', 'report'))}")
    return 0 if res.recommended is not None else 1


def report(res: SweepResult, train: str) -> str:
    """The markdown report: the command's table, the verdict and the plot."""
    lines = [
        "# rampup sweep",
        "",
        f"train function: `{train}`; metric: `{res.metric}` ({res.mode}); trials: {len(res.records)}; "
        f"python {platform.python_version()}, {platform.machine()}",
        "",
        f"| warmup | steps | peak LR | {res.metric} mean ± std | n | failed | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res.cells:
        ms = mean_pm_std(c.mean, c.std) if c.mean is not None else "—"
        star = " **(recommended)**" if c is res.recommended else ""
        lr = f"{c.peak_lr:g}" if c.peak_lr is not None else "—"
        steps = c.warmup_steps if c.warmup_steps is not None else "—"
        lines.append(f"| {c.warmup}{star} | {steps} | {lr} | {ms} | {len(c.values)} | {c.failed} | {c.diverged} |")
    lines += ["", res.verdict(), "", "![sweep](sweep.png)", ""]
    return "\n".join(lines)


# =========================================================================
# Benchmark: rampup bench sweep.
# =========================================================================


BENCH_STEPS = 3000  # updates of bench_train: about 1 CPU-second on the 2-core reference machine


def bench_train(config: dict[str, Any]) -> dict[str, Any]:
    """The trial of ``rampup bench sweep``: a small torch training run, ``config["steps"]`` SGD updates of an MLP
    64-256-64 on one fixed batch of 32 (``BENCH_STEPS`` by default: about 1 CPU-second), seeded by
    ``config["seed"]``.  It imports torch, as a real train function does."""
    import torch

    g = torch.Generator().manual_seed(int(config.get("seed", 0)))
    w1 = torch.randn(64, 256, generator=g).mul_(0.1).requires_grad_()
    w2 = torch.randn(256, 64, generator=g).mul_(0.1).requires_grad_()
    x, y = torch.randn(32, 64, generator=g), torch.randn(32, 64, generator=g)
    opt = torch.optim.SGD([w1, w2], lr=float(config.get("peak_lr") or 1e-2))
    loss = torch.zeros(())
    for _ in range(int(config.get("steps", BENCH_STEPS))):
        loss = ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"loss": float(loss.detach())}


def bench_sweep(quick: bool = False) -> dict[str, Any]:
    """The local backend against a plain sequential loop, on the same trials, in one run.

    18 trials of :func:`bench_train` (about 1 CPU-second each; ``quick``: 4 tiny ones).  *Cold*:
    ``sweep(workers=2)`` of all of them with no workers yet (spawn + imports in each worker).  Then, in 3
    interleaved rounds of a third of the trials each (so that a neighbour's load falls on all of them alike):
    *sequential*, a loop in this process with one torch thread (the fastest plain loop for a small model); *warm*,
    ``sweep(workers=2)`` on the reused workers; *in-process*, ``sweep(workers=1)``.  Speedups: the sequential
    loop with its ``import torch`` and first update (a loop in a fresh process pays them once) / cold, and
    sequential / warm.
    """
    import tempfile

    from . import pool

    n, steps = (4, 50) if quick else (18, BENCH_STEPS)
    rounds = 2 if quick else 3
    warmups = [f"{i}%" for i in range(1, n + 1)]
    trials = make_trials(warmups, seeds=1, total_steps=1000, params={"steps": steps})
    out: dict[str, Any] = {"bench": "sweep", "trials": n, "steps_per_trial": steps, "cpus": os.cpu_count()}
    # other processes on the machine take cores from the workers: the load average makes the figures readable
    out["load_average_1min"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    import torch

    bench_train({"steps": 1})  # the first update imports more of torch (torch._dynamo: seconds), once
    out["import_torch_s"] = time.perf_counter() - t0  # ~0 when this process had used torch already
    kw: dict[str, Any] = dict(seeds=1, total_steps=1000, params={"steps": steps}, progress=False)
    with tempfile.TemporaryDirectory() as d:
        pool.shutdown()  # no warm workers: the cold figure includes their start
        t0 = time.perf_counter()
        sweep(bench_train, warmups, workers=2, results=os.path.join(d, "cold.jsonl"), **kw)
        out["local_cold_s"] = time.perf_counter() - t0
        times = {"sequential_s": 0.0, "local_warm_s": 0.0, "local_in_process_s": 0.0}
        for r in range(rounds):
            part = warmups[r::rounds]
            with pool.torch_threads(1):
                t0 = time.perf_counter()
                for t in trials[r::rounds]:
                    bench_train(t.config)
                times["sequential_s"] += time.perf_counter() - t0
            for key, workers in (("local_warm_s", 2), ("local_in_process_s", 1)):
                t0 = time.perf_counter()
                sweep(bench_train, part, workers=workers, results=os.path.join(d, f"{key}{r}.jsonl"), **kw)
                times[key] += time.perf_counter() - t0
        out.update(times)
        out["ray"] = "skipped (--quick)" if quick else _bench_ray(warmups, steps, d)
    pool.shutdown()
    out["trial_s"] = out["sequential_s"] / n
    out["speedup_cold"] = (out["import_torch_s"] + out["sequential_s"]) / out["local_cold_s"]
    out["speedup_warm"] = out["sequential_s"] / out["local_warm_s"]
    out["speedup_in_process"] = out["sequential_s"] / out["local_in_process_s"]
    out["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out["python"] = platform.python_version()
    out["machine"] = platform.machine()
    out["torch"] = torch.__version__
    return out


def _bench_ray(warmups: list[str], steps: int, d: str) -> dict[str, Any]:
    try:
        import ray
    except ImportError:
        return {"skipped": "ray is not installed (pip install 'rampup[ray]')"}
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    init_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        sweep(
            bench_train,
            warmups,
            seeds=1,
            total_steps=1000,
            params={"steps": steps},
            backend="ray",
            workers=2,
            results=os.path.join(d, "ray.jsonl"),
            progress=False,
        )
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    return {"init_s": init_s, "sweep_s": wall}


def format_bench(r: dict[str, Any]) -> str:
    n = r["trials"]
    seq_cold = r["import_torch_s"] + r["sequential_s"]
    lines = [
        f"rampup bench sweep — {n} trials of bench_train ({r['steps_per_trial']} updates, "
        f"{r['trial_s']:.2f} s each in a loop), {r['cpus']} CPUs",
        f"  sequential loop, 1 thread     : {r['sequential_s']:7.2f} s   (+ import torch, first update "
        f"{r['import_torch_s']:.2f} s "
        f"= {seq_cold:.2f} s)",
        f"  local, 2 workers, cold        : {r['local_cold_s']:7.2f} s   speedup {r['speedup_cold']:.2f}x "
        "(vs the loop with its imports; target >= 1x: never slower)",
        f"  local, 2 workers, warm        : {r['local_warm_s']:7.2f} s   speedup {r['speedup_warm']:.2f}x "
        "(reused workers, vs the loop; target >= 1.7x on 2 idle cores)",
        f"  local, --workers 1 (in-process): {r['local_in_process_s']:6.2f} s   speedup {r['speedup_in_process']:.2f}x",
    ]
    ray = r["ray"]
    if isinstance(ray, dict) and "sweep_s" in ray:
        lines.append(
            f"  ray: ray.init {ray['init_s']:.2f} s, then 2 workers {ray['sweep_s']:.2f} s "
            f"(speedup {r['sequential_s'] / ray['sweep_s']:.2f}x without ray.init)"
        )
    else:
        lines.append(f"  ray: {ray if isinstance(ray, str) else ray.get('skipped')}")
    load, end = r.get("load_average_1min"), r.get("load_average_1min_end")
    lines.append(
        f"  python {r['python']}, torch {r.get('torch', '?')}, {r['machine']}"
        + (
            f", load average {load:.2f} at the start, {end:.2f} at the end"
            if load is not None and end is not None
            else ""
        )
    )
    return "\n".join(lines)
