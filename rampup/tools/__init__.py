"""The tools layer: built on the core, compat and the adapters; never imports the experiments or the CLI.

``advisor`` (``rampup advise``), ``sweep`` (``rampup sweep``), ``plot``, ``explain``, ``bench`` (the registry
of ``rampup bench`` targets) and ``pool`` (the warm worker processes behind sweeps and experiments).
"""
