"""The train function of a sweep: a callable, a script file or an importable entry point, as a reference
every worker (a local process, a Ray actor on another machine) can load."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainFn"]


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
