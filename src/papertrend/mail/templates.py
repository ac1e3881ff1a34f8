"""Mail templates: Jinja environments whose HTML templates have their CSS inlined once (issue #5).

Mail clients drop `<style>`; the phone rules stay in a `<style>` block, as @media rules cannot be
inlined.
"""

from __future__ import annotations

from pathlib import Path

import css_inline
import jinja2

# One inliner for the process: it holds no per-message state. Remote stylesheets are never fetched.
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def environment(folder: Path) -> jinja2.Environment:
    """A Jinja environment over `folder`: autoescaped HTML, strict about undefined names."""

    def source(name: str) -> str:
        """A template's source; an HTML template's with its CSS already inlined.

        Inlined once per process instead of once per message (issue #5: inlining every digest was a
        fifth of its rendering). The same result: every element the style sheet selects is written
        in the template itself, values are escaped text that adds none, and the @media rules stay in
        the `<style>` block. css-inline keeps the `{{ }}` and `{% %}` tags as the text they are.
        """
        text = (folder / name).read_text(encoding="utf-8")
        return _inliner.inline(text) if name.endswith(".html") else text

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(source),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
