"""mkdocs hooks for the rampup site (``hooks:`` in mkdocs.yml).

The nav in mkdocs.yml is the one list of pages, with two rules applied here before mkdocs reads it:

* A nav entry that ends with ``/`` names a folder of generated pages (``shapes/warmup/``): it expands to
  one entry per ``.md`` file in it, titled by the file name, in the order of the folder's ``.nav-order``
  file (one name per line; ``docs/gen_plots.py`` writes the registry order there), else by name.  A missing or empty folder
  stops the build with a message that says to run ``docs/gen_plots.py``.
* A page listed under ``extra.optional_pages`` (a guide another part of the project may not have
  written yet) is dropped from the nav while its file does not exist.  Any other missing page is left
  in, so ``mkdocs build --strict`` fails on it (``validation.nav.not_found: warn`` in mkdocs.yml), and a
  page that exists but is in no nav entry fails the build too (``validation.nav.omitted_files: warn``).

And one for pages: the line ``<!-- nav-pages -->`` in a page becomes a list of links to the pages of
the (filtered) nav, so the home page links to every guide that exists and to none that does not.
"""

from __future__ import annotations

import logging
import os
import posixpath
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.rampup")


def _expand(folder: str, docs_dir: str) -> list[Any]:
    path = os.path.join(docs_dir, folder)
    names = sorted(f for f in os.listdir(path) if f.endswith(".md") and f != "index.md") if os.path.isdir(path) else []
    order_file = os.path.join(path, ".nav-order")  # optional: one page name per line, listed first in that order
    if os.path.isfile(order_file):
        with open(order_file, encoding="utf-8") as fh:
            order = [line.strip() + ".md" for line in fh if line.strip()]
        names.sort(key=lambda n: (order.index(n), "") if n in order else (len(order), n))
    if not names:
        raise PluginError(
            f"nav: the folder '{folder}' has no pages; it is generated: run `python docs/gen_plots.py` "
            "(or `make docs`) before mkdocs"
        )
    return [{n[: -len(".md")]: folder + n} for n in names]


def _filter(items: list[Any], docs_dir: str, optional: set[str]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        title, value = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(value, list):
            children = _filter(value, docs_dir, optional)
            if children:
                out.append({title: children})
            continue
        if not isinstance(value, str) or "://" in value:
            out.append(item)
            continue
        if value.endswith("/"):
            expanded = _expand(value, docs_dir)
            out.append({title: expanded} if title else expanded)
            continue
        if value in optional and not os.path.isfile(os.path.join(docs_dir, value)):
            log.info("nav: leaving out the optional page %s (not written yet)", value)
            continue
        out.append(item)
    # An expanded folder without a title splices its pages into the parent list.
    flat: list[Any] = []
    for x in out:
        flat.extend(x) if isinstance(x, list) else flat.append(x)
    return flat


def on_config(config: Any) -> Any:
    optional = set((config.get("extra") or {}).get("optional_pages") or [])
    if config.get("nav"):
        config["nav"] = _filter(config["nav"], config["docs_dir"], optional)
    return config


def _links(items: list[Any], page_dir: str, depth: int = 0) -> list[str]:
    lines = []
    for item in items:
        title, value = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        pad = "    " * depth
        if isinstance(value, list):
            first = value[0] if value else None
            target = first if isinstance(first, str) else None  # a section with an index page links to it
            label = f"[{title}]({posixpath.relpath(target, page_dir or '.')})" if target else f"{title}"
            lines.append(f"{pad}- {label}")
            if depth == 0 and not target:
                lines += _links(value, page_dir, depth + 1)
            continue
        if not isinstance(value, str) or value == "index.md":
            continue
        lines.append(f"{pad}- [{title or value}]({posixpath.relpath(value, page_dir or '.')})")
    return lines


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    marker = "<!-- nav-pages -->"
    if marker not in markdown:
        return markdown
    page_dir = posixpath.dirname(page.file.src_uri)
    return markdown.replace(marker, "\n".join(_links(config["nav"], page_dir)))
