"""Tools built on the core and the adapters: explain, plot, bench, CLI helpers."""
