"""Mail templates: Jinja environments whose HTML templates have their CSS inlined once (issue #5).

Mail clients drop `<style>`; the phone rules stay in a `<style>` block, as @media rules cannot be
inlined.
"""

from __future__ import annotations

import re
from pathlib import Path

import css_inline
import jinja2

# One inliner for the process: it holds no per-message state. Remote stylesheets are never fetched.
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


def environment(folder: Path, styles_from: str | None = None) -> jinja2.Environment:
    """A Jinja environment over `folder`: autoescaped HTML, strict about undefined names.

    An HTML template without a `<style>` of its own is a fragment (parts rendered apart and put into
    a document): its elements get the style sheet of the document `styles_from`, inlined as well.
    """

    def source(name: str) -> str:
        """A template's source; an HTML template's with its CSS already inlined.

        Inlined once per process instead of once per message (issue #5: inlining every digest was a
        fifth of its rendering). The same result: every element the style sheet selects is written
        in the template itself, values are escaped text that adds none, and the @media rules stay in
        the `<style>` block. css-inline keeps the `{{ }}` and `{% %}` tags as the text they are.
        """
        text = (folder / name).read_text(encoding="utf-8")
        if not name.endswith(".html"):
            return text
        if _STYLE.search(text) or styles_from is None:
            return _inliner.inline(text)
        sheet = "\n".join(_STYLE.findall((folder / styles_from).read_text(encoding="utf-8")))
        return _inliner.inline_fragment(text, sheet)

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(source),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
