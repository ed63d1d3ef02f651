"""The one process pool of rampup: sweep trials, experiment runs and auto-compare runs all go through it.

:func:`run_tasks` calls ``fn(item)`` for every item in ``workers`` worker
processes and hands each result to ``on_done(index, result)`` as it arrives.
It is :class:`concurrent.futures.ProcessPoolExecutor` (``spawn``) plus what a
long job on a shared machine needs from it:

* **Workers die with their driver.**  Each worker polls its parent's pid
  (every :data:`WATCH_S` s) and exits when the driver is gone — ``kill -9`` of
  the driver included, which no ``atexit`` or signal handler can see.  The
  driver kills its workers on every way out of :func:`run_tasks`: an exception,
  Ctrl-C, and SIGTERM (what a batch scheduler sends), which
  :func:`signals_as_interrupts` turns into :class:`Interrupted`.
* **Workers ignore SIGINT.**  Ctrl-C in a terminal reaches the whole process
  group; the driver alone handles it (no traceback from every worker).
* **Warm, reused workers.**  The executor outlives one call: a retry, the next
  experiment of a demo, or a second sweep in the same process reuse the
  workers, whose imports (``torch``) are paid once per worker.  Workers start
  with ``OMP_NUM_THREADS`` and friends set to ``threads`` (one thread per
  worker is fastest for small models, and two workers use two cores).
* **One policy for a killed worker** (OOM kill, segfault, ``os._exit``), the
  same for every caller and for the Ray backend of the sweep: a task whose
  worker died while it ran is **retried once**, alone (nothing else in flight,
  so a second death is pinned on it); if it kills its worker again it is given
  up (``on_died(index, message)``, or :class:`WorkerDied` is raised).  One
  death breaks the whole executor, which stops the other workers with SIGTERM
  (SIGKILL 2 s later for a task that handles SIGTERM): the tasks running beside
  the one whose worker died on its own (any other exit status) are bystanders,
  rerun without a charge.  Only when no worker's exit status tells (every
  worker ended by SIGTERM, e.g. sent from outside) is every task that was
  running charged.  Tasks that had not started yet are simply resubmitted; a
  pool that dies :data:`MAX_BREAKS` times before a task could start gives that
  task up.
* **An exception in a task** stops the others (they are cancelled and the
  workers killed) and is raised in the driver, with the worker's traceback as
  its ``__cause__``.  A caller that wants to go on catches inside ``fn``.
* ``workers=1`` runs the tasks in this process, one after another (no
  isolation, no start-up cost).

Why the standard library's executor and not loky/joblib's reusable one: rampup
depends on NumPy alone, loky has no parent-death watch either (its idle workers
exit when the driver's pipe closes, busy ones run on), and the reuse it offers
is the ``_SHARED`` executor below.  A worker that the driver kills takes the
``multiprocessing`` children of its task along only when the driver is gone;
torch's DataLoader workers watch their own parent.

Workers report progress with :func:`report` (a line on a pipe: one ``write``
below ``PIPE_BUF``, so it is atomic without a lock that a killed worker could
leave held); the driver hands it to ``on_message(index, value)``.

>>> from rampup.tools.pool import run_tasks
>>> out = {}
>>> run_tasks(abs, [-3, 4], workers=1, on_done=out.__setitem__)
>>> out
{0: 3, 1: 4}
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future

# concurrent.futures and multiprocessing are imported where they are used: `rampup` imports this module for
# signals_as_interrupts() on every command, and `rampup curve` should not pay for process pools.

__all__ = [
    "MAX_BREAKS",
    "WATCH_S",
    "Interrupted",
    "WorkerDied",
    "interrupted_exit_code",
    "report",
    "run_tasks",
    "shutdown",
    "signals_as_interrupts",
    "thread_env",
    "torch_threads",
]

WATCH_S = 0.2  # how often a worker checks that its driver is alive
MAX_BREAKS = 3  # pool deaths with a task still unstarted before that task is given up
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class WorkerDied(RuntimeError):
    """A task killed its worker process twice (or the pool died before it could start)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) received by the driver; ``signum`` says which.  A ``KeyboardInterrupt`` so that
    code which cleans up after Ctrl-C cleans up after it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_exit_code(e: BaseException) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (e.signum if isinstance(e, Interrupted) else int(signal.SIGINT))


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread (as Ctrl-C raises
    ``KeyboardInterrupt``), so ``finally`` blocks run and worker processes are killed.  A no-op off the main
    thread (Python delivers signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    saved = {s: signal.signal(s, _raise) for s in sigs}
    try:
        yield
    finally:
        for s, old in saved.items():
            signal.signal(s, old)


# =========================================================================
# Worker side.
# =========================================================================

_CHANNEL: int | None = None  # the write end of the driver's pipe (a worker process)
_CHANNEL_CONN: Any = None  # its Connection, held so that the fd stays open
_TOKEN: int | None = None  # the task this worker is running
_LOCAL_SINK: Callable[[Any], None] | None = None  # workers=1: report() goes straight to the driver's callback


def report(value: Any) -> None:
    """Send a small JSON value (e.g. a number of finished steps) to the driver's ``on_message``.

    A no-op outside :func:`run_tasks`.  The value must serialize to < 3 kB of JSON.
    """
    if _LOCAL_SINK is not None:
        _LOCAL_SINK(value)
        return
    if _CHANNEL is None or _TOKEN is None:
        return
    _send(f"m {_TOKEN} {json.dumps(value, separators=(',', ':'))}")


def _send(line: str) -> None:
    data = (line + "\n").encode()
    if len(data) > 3072:  # one write below PIPE_BUF (4096 on Linux) is atomic; longer ones could interleave
        raise ValueError(f"report: got {len(data)} bytes of JSON; accepted: a small value (< 3 kB)")
    assert _CHANNEL is not None
    os.write(_CHANNEL, data)


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the driver is gone (kill -9, OOM kill, crash)
            import multiprocessing

            for child in multiprocessing.active_children():  # the task's own processes go with it
                child.kill()
            os._exit(1)
        time.sleep(WATCH_S)


def _init_worker(
    parent: int, channel: Any, threads: int | None, init: Callable[..., Any] | None, initargs: tuple[Any, ...]
) -> None:
    global _CHANNEL, _CHANNEL_CONN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    threading.Thread(target=_watch_parent, args=(parent,), name="rampup-parent-watch", daemon=True).start()
    _CHANNEL_CONN, _CHANNEL = channel, channel.fileno()
    if threads is not None:
        for v in THREAD_VARS:
            os.environ.setdefault(v, str(threads))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    if init is not None:
        init(*initargs)


def _call(token: int, fn: Callable[[Any], Any], item: Any) -> Any:
    global _TOKEN
    _TOKEN = token
    # Before the task runs: if the worker dies now, the driver knows which task it was running, and in which process.
    _send(f"s {token} {os.getpid()}")
    try:
        return fn(item)
    finally:
        _TOKEN = None


# =========================================================================
# Driver side.
# =========================================================================


class _Executor:
    """A ``ProcessPoolExecutor`` with its progress pipe; reused while its configuration stays the same."""

    def __init__(self, workers: int, threads: int | None, init: Callable[..., Any] | None, initargs: tuple[Any, ...]):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # fork after torch started its thread pools is unsafe
        self.key = (workers, threads, init, initargs)
        self.threads = threads
        self.reader, writer = ctx.Pipe(duplex=False)
        self._writer = writer  # stays open here: workers spawned later inherit it
        os.set_blocking(self.reader.fileno(), False)
        self._buf = b""
        self.died: set[int] = set()  # pids of the workers that ended on their own, known once kill() returns
        self.ex = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(), writer, threads, init, initargs)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        # Workers are spawned lazily inside submit(); they inherit the environment at that moment, and BLAS/OpenMP
        # read their thread counts when they load, before any code of ours runs in the worker.
        # A worker started with SIGINT ignored ignores it from its first instruction (Python keeps an inherited
        # SIG_IGN), so a Ctrl-C while it is still importing prints no traceback from it.
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            with thread_env(self.threads):
                fut = self.ex.submit(fn, *args)
            # CPython (3.11-3.13) wakes the executor's manager thread *before* it spawns the worker for this
            # task, so the manager can go back to waiting without that worker's sentinel: its death then goes
            # unseen until another task finishes (the task beside it runs to its end, the dead one's future hangs
            # meanwhile).  One more wake-up makes the manager wait on every worker.
            # Under the executor's shutdown lock, as CPython's own wake-up: a manager that found the pool broken
            # closes the wake-up pipe under that lock, and wakeup() on a closed pipe is a no-op.
            wake = getattr(self.ex, "_executor_manager_thread_wakeup", None)
            lock = getattr(self.ex, "_shutdown_lock", None)
            if wake is not None and lock is not None:
                with lock:
                    wake.wakeup()
            return fut
        finally:
            if main:
                signal.signal(signal.SIGINT, old)

    def messages(self) -> list[tuple[str, int, Any]]:
        out = []
        while True:
            try:
                chunk = os.read(self.reader.fileno(), 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            kind, _, rest = line.decode().partition(" ")
            token, _, payload = rest.partition(" ")
            out.append((kind, int(token), json.loads(payload) if payload else None))
        return out

    def kill(self) -> None:
        """Stop now: cancel what has not started, kill the workers (SIGTERM, then SIGKILL after 2 s).

        A worker's end is read from its sentinel, never with ``waitpid`` here: a broken executor's manager thread
        joins (reaps) the same processes concurrently, and the loser of that race sees ECHILD — a dead worker
        that ``is_alive()`` reports alive and whose ``exitcode`` stays None until the manager has reaped it.
        After the manager thread has ended, every worker's ``exitcode`` is final, and :attr:`died` is set from
        them (a worker this method had to SIGKILL ignored SIGTERM: it did not die on its own).
        """
        from multiprocessing.connection import wait as ended

        procs = list((getattr(self.ex, "_processes", None) or {}).values())
        manager = getattr(self.ex, "_executor_manager_thread", None)
        self.ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if not ended([p.sentinel], 0):
                p.terminate()
        deadline = time.monotonic() + 2.0
        forced: set[int] = set()
        for p in procs:
            if not ended([p.sentinel], max(0.0, deadline - time.monotonic())):
                forced.add(p.pid)
                p.kill()
                ended([p.sentinel], 1.0)
        for p in procs:
            if manager is None or not manager.is_alive():
                p.join(1.0)  # no manager thread to reap them: this thread does
        if manager is not None:
            manager.join(5.0)  # it joins every worker: their exit statuses are set when it ends
        self.died = {p.pid for p in procs if p.pid not in forced and _died_by_itself(p)}
        self.close()

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


_SHARED: _Executor | None = None  # the warm executor of this process
_ATEXIT: list[Any] = []
_RUNNING = threading.RLock()
_TOKENS = itertools.count()


def _executor(
    workers: int, threads: int | None, init: Callable[..., Any] | None, initargs: tuple[Any, ...]
) -> _Executor:
    global _SHARED
    key = (workers, threads, init, initargs)
    if _SHARED is not None and (_SHARED.key != key or getattr(_SHARED.ex, "_broken", False)):
        shutdown()
    if _SHARED is None:
        _SHARED = _Executor(workers, threads, init, initargs)
        if not _ATEXIT:  # stopped while the interpreter is whole (not in its teardown, where the pool's own
            _ATEXIT.append(atexit.register(shutdown))  # cleanup finds its modules gone and complains)
    return _SHARED


def shutdown() -> None:
    """Stop the warm workers of this process now (they are also stopped at exit, and die with this process)."""
    global _SHARED
    if _SHARED is not None:
        ex, _SHARED = _SHARED, None
        ex.kill()


@contextmanager
def thread_env(threads: int | None) -> Iterator[None]:
    """``OMP_NUM_THREADS`` and friends set to ``threads`` (where not set already) within the block."""
    if threads is None:
        yield
        return
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    for v in THREAD_VARS:
        os.environ.setdefault(v, str(threads))
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` within the block, and the previous count back after it.

    What a worker gets (``threads`` each, 1 by default), for work run in this process instead: the same float
    summation order, hence the same run, and no oversubscribed cores beside busy workers.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_tasks(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    on_done: Callable[[int, Any], None],
    *,
    on_died: Callable[[int, str], None] | None = None,
    on_message: Callable[[int, Any], None] | None = None,
    threads: int | None = 1,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    noun: str = "task",
) -> None:
    """Run ``fn(item)`` for every item, ``workers`` at a time; ``on_done(index, result)`` as each finishes.

    ``fn``, the items and ``initializer`` must be picklable (module-level functions).  ``initializer(*initargs)``
    runs once per worker (e.g. ``import torch``) — with ``workers=1`` once in this process.  ``threads``: the
    BLAS/OpenMP threads of each worker (``None``: leave the environment alone).  Killed workers, exceptions
    and interrupts: see the module docstring.  Returns when every task is done or given up.  ``noun`` names a
    task in the messages of ``on_died`` ("trial", "run").
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}; accepted: an int >= 1 (1 runs the tasks in this process)")
    items = list(items)
    if not items:
        return
    if workers == 1:
        _run_here(fn, items, on_done, on_message, initializer, initargs)
        return
    with _RUNNING, signals_as_interrupts():  # one run at a time per process: they share the warm workers
        _run_pool(fn, items, workers, on_done, on_died, on_message, threads, initializer, initargs, noun)


def _run_here(
    fn: Callable[[Any], Any],
    items: list[Any],
    on_done: Callable[[int, Any], None],
    on_message: Callable[[int, Any], None] | None,
    initializer: Callable[..., Any] | None,
    initargs: tuple[Any, ...],
) -> None:
    global _LOCAL_SINK
    if initializer is not None:
        initializer(*initargs)
    saved = _LOCAL_SINK
    try:
        for i, item in enumerate(items):
            _LOCAL_SINK = functools.partial(on_message, i) if on_message is not None else _ignore
            result = fn(item)
            _LOCAL_SINK = saved
            on_done(i, result)
    finally:
        _LOCAL_SINK = saved


def _ignore(value: Any) -> None:
    pass


def _run_pool(
    fn: Callable[[Any], Any],
    items: list[Any],
    workers: int,
    on_done: Callable[[int, Any], None],
    on_died: Callable[[int, str], None] | None,
    on_message: Callable[[int, Any], None] | None,
    threads: int | None,
    initializer: Callable[..., Any] | None,
    initargs: tuple[Any, ...],
    noun: str,
) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    ex = _executor(workers, threads, initializer, initargs)
    queue = list(range(len(items)))  # tasks to submit, in order
    suspects: list[int] = []  # tasks whose worker died while they ran: rerun one at a time, nothing beside them
    retried: set[int] = set()
    breaks = dict.fromkeys(range(len(items)), 0)
    running: dict[Future[Any], tuple[int, int]] = {}  # future -> (index, token)
    by_token: dict[int, int] = {}
    began: set[int] = set()
    pid_of: dict[int, int] = {}  # token -> the worker process that ran it

    def give_up(i: int, msg: str) -> None:
        if on_died is None:
            raise WorkerDied(f"{noun} {i}: {msg}")
        on_died(i, msg)

    def drain() -> None:
        for kind, token, payload in ex.messages():
            if kind == "s":
                began.add(token)
                pid_of[token] = payload
            elif on_message is not None and token in by_token:
                on_message(by_token[token], payload)

    try:
        while queue or suspects or running:
            if not running:
                alone = bool(suspects)
                if alone:
                    batch = [suspects.pop(0)]
                else:
                    batch, queue = queue, []
                for n, i in enumerate(batch):
                    token = next(_TOKENS)
                    by_token[token] = i
                    try:
                        running[ex.submit(_call, token, fn, items[i])] = (i, token)
                    except BrokenProcessPool:
                        # A worker died while this batch was being submitted (the executor refuses new work
                        # from then on): the rest waits for the next executor, the submitted ones fail below.
                        if alone:
                            suspects[:0] = batch[n:]
                        else:
                            queue[:0] = batch[n:]
                        break
                if not running:  # nothing went in: start a new executor now, or the loop would spin on this one
                    shutdown()
                    ex = _executor(workers, threads, initializer, initargs)
                    continue
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            broken: list[tuple[int, int]] = []
            for fut in done:
                i, token = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken.append((i, token))
                    continue
                on_done(i, result)
            if not broken:
                continue
            # A worker died: the executor is broken and every task in it failed with it.  Start a new one.
            for fut, it in list(running.items()):
                running.pop(fut)
                broken.append(it)
            drain()
            old = ex
            shutdown()  # joins every worker and tells which of them died on their own (old.died)
            ex = _executor(workers, threads, initializer, initargs)
            attributed = any(t in began for _, t in broken)
            culprits = {t for _, t in broken if t in began and pid_of.get(t) in old.died}
            for i, token in sorted(broken):
                back = suspects if i in retried else queue  # a suspect stays alone until it has run
                if token in began and culprits and token not in culprits:
                    back.append(i)  # a bystander: its worker was stopped because another one died
                elif token in began:
                    if i in retried:
                        give_up(i, f"worker process died running this {noun}, twice (the second time alone)")
                    else:
                        retried.add(i)
                        suspects.append(i)
                elif not attributed:  # the pool died with no task running: charge every task that was waiting
                    breaks[i] += 1
                    if breaks[i] >= MAX_BREAKS:
                        give_up(i, f"worker processes died {breaks[i]} times before this {noun} could start")
                    else:
                        back.append(i)
                else:
                    back.append(i)
            queue.sort()
    except BaseException:
        shutdown()  # an exception, Ctrl-C or SIGTERM: the workers go now, not when their tasks end
        raise


def _died_by_itself(proc: Any) -> bool:
    """Whether a worker ended on its own (an exit status, SIGKILL from the OOM killer, a segfault), not by the
    SIGTERM with which a broken executor and :func:`shutdown` stop the workers beside a dead one."""
    code = proc.exitcode
    return code is not None and code != -signal.SIGTERM
