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

And for pages, markers that a hand-written page uses where it would otherwise list by hand what the code
knows (so a page cannot drift from the code):

* ``<!-- nav-pages -->`` becomes a list of links to the pages of the (filtered) nav, so the home page links to
  every guide that exists and to none that does not;
* ``<!-- registry:warmup -->`` (``decay``, ``whole``, ``modifier``, ``compat``) becomes the registered shapes of
  that role as a list of code spans (``compat``: the compat prefixes, ``hf:``, ``torch:`` ...);
* ``<!-- advisor:warmup-profiles -->`` becomes the table of how the advisor reads each registered warmup
  (:func:`rampup.tools.advisor.shapes.warmup_profile`).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
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


def _roles() -> dict[str, dict[str, Any]]:
    import rampup
    import rampup.compat  # registers the compat specs (prefix:name)

    return {"warmup": rampup.WARMUPS, "decay": rampup.DECAYS, "whole": rampup.WHOLES, "modifier": rampup.MODIFIERS}


def registry_list(role: str) -> str:
    """The registered shapes of ``role`` as code spans (``compat``: the compat prefixes, each with its count)."""
    roles = _roles()
    if role == "compat":
        prefixes: dict[str, int] = {}
        for table in roles.values():
            for name in table:
                if ":" in name:
                    prefixes[name.split(":", 1)[0]] = prefixes.get(name.split(":", 1)[0], 0) + 1
        return ", ".join(f"`{p}:` ({prefixes[p]})" for p in sorted(prefixes))
    if role not in roles:
        raise PluginError(f"<!-- registry:{role} -->: unknown role; accepted: {', '.join(roles)}, compat")
    lead = "| " if role == "modifier" else ""
    return ", ".join(f"`{lead}{n}`" for n in roles[role] if ":" not in n)


def warmup_profiles() -> str:
    """How the advisor reads each registered warmup: a Markdown table."""
    from rampup.tools.advisor.shapes import warmup_profile

    words = {
        "ramp": "ramps from `start=` to the peak: gradual (the large-batch check asks it to start low)",
        "hold": "holds its `start=` level, then jumps to the peak (the `constant-warmup-gap` check)",
        None: "neither: not classified (never taken for linear)",
    }
    rows = ["| warmup | read as |", "|---|---|"]
    rows += [f"| `{n}` | {words[warmup_profile(n)]} |" for n in _roles()["warmup"] if ":" not in n]
    return "\n".join(rows)


_REGISTRY = re.compile(r"<!-- registry:([a-z]+) -->")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    marker = "<!-- nav-pages -->"
    if marker in markdown:
        page_dir = posixpath.dirname(page.file.src_uri)
        markdown = markdown.replace(marker, "\n".join(_links(config["nav"], page_dir)))
    markdown = _REGISTRY.sub(lambda m: registry_list(m.group(1)), markdown)
    if "<!-- advisor:warmup-profiles -->" in markdown:
        markdown = markdown.replace("<!-- advisor:warmup-profiles -->", warmup_profiles())
    return markdown
