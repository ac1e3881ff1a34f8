"""Rendering mail: parts, headers, inlined CSS, and no header injection (issue #5 item 4)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from email.message import EmailMessage
from html.parser import HTMLParser

import css_inline
import jinja2
import pytest

from papertrend.digest import render as render_module
from papertrend.digest.render import (
    TEMPLATES,
    message_id_for,
    one_line,
    render_already,
    render_confirmation,
    subject_for,
)
from papertrend.digest.subscriptions import Preferences, link_token
from papertrend.mail.message import MAIL_POLICY, WIRE_POLICY, to_bytes
from tests.unit.render_support import CTX, NOW, SUB, digest, make_paper, reparse


def test_digest_is_multipart_alternative_with_list_headers() -> None:
    msg = reparse(digest())
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "Trending papers — Tue 23 Jun: Top paper"
    assert msg["From"] == "Papertrend <digest@example.org>"
    assert msg["To"] == "reader@example.org"
    assert msg["Date"] == "Tue, 23 Jun 2026 08:00:00 +0000"
    assert re.fullmatch(r"<digest\.20260623\.7\.[0-9a-f]{12}@x\.org>", str(msg["Message-ID"]))
    assert msg["List-Id"] == "Papertrend daily digest <daily.digest.example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(
        r"<(https://papers\.example\.org/unsubscribe/7\.[\w-]+)>, "
        r"<mailto:digest@example\.org\?subject=unsubscribe%207\.[\w-]+>",
        str(msg["List-Unsubscribe"]),
    )
    assert found, msg["List-Unsubscribe"]
    # One unfolded line on the wire: clients must read the URL as written.
    raw = to_bytes(digest())
    assert re.search(
        rb"\r\nList-Unsubscribe: <https://papers\.example\.org/unsubscribe/7\.[\w-]+>, <mailto:", raw
    )
    assert b"=?utf-8?q?=3Cmailto" not in raw


def test_parts_hold_links_snippets_and_inlined_css() -> None:
    msg = reparse(digest())
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "https://papers.example.org/papers/2606.00001" in part
        assert "https://arxiv.org/abs/2606.00001" in part and "https://arxiv.org/pdf/2606.00001" in part
        assert "https://github.com/example/repo" in part
        assert "Ada Lovelace, Alan Turing, Grace Hopper and 2 more" in part
        assert "https://papers.example.org/preferences/7." in part
        assert "agents" in part
    assert "We study things. We study things." in text and "…" in text
    # About two lines of each of the three abstracts (of 40 sentences each), not the whole.
    assert text.count("We study things.") <= 3 * 14
    # CSS inlined into style attributes; only the @media rules stay in <style> (phones).
    assert 'class="paper" style="' in html
    assert re.search(r"<style>\s*@media", html)
    assert "max-width: 600px" in html


def test_hostile_titles_are_escaped_and_flattened() -> None:
    evil = make_paper(
        "2606.00666",
        'Evil <script>alert(1)</script>\r\nBcc: victim@example.org\nX-Injected: 1 "&"',
        code_url="javascript:alert(2)",
    )
    msg = digest(trending=[evil], for_you=[])
    raw = to_bytes(msg)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?mi)^(bcc|x-injected):", head)
    parsed = reparse(msg)
    assert parsed["Subject"].startswith(
        "Trending papers — Tue 23 Jun: Evil <script>alert(1)</script> Bcc: victim"
    )
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html


def test_a_link_holding_the_not_interested_placeholder_is_dropped() -> None:
    """A For-you block is rendered once per run with a NUL-fenced placeholder where each reader's
    "Not interested" link goes (#13): a source's link with control characters is no link at all,
    so it can never be taken for the placeholder."""
    hostile = make_paper(
        "2606.00667",
        "Agents",
        code_url="https://evil.test/\x00not-interested\x00",
        pdf_url="https://bad.test/\x01",
    )
    parsed = reparse(digest(trending=[], for_you=[(hostile, "agents")]))
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    text = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    for body in (html, text):
        assert "evil.test" not in body and "bad.test" not in body
        assert body.count("/not-interested/") == 1
    assert "https://arxiv.org/pdf/2606.00667" in html  # the PDF link falls back to arXiv's


def test_the_email_package_refuses_cr_lf_in_any_header() -> None:
    msg = EmailMessage(policy=MAIL_POLICY)
    with pytest.raises(ValueError):
        msg["Subject"] = "hi\r\nBcc: victim@example.org"
    with pytest.raises(ValueError):
        msg["To"] = "a@example.org\nBcc: victim@example.org"
    with pytest.raises(ValueError):
        render_confirmation(
            ctx=CTX, to="a@example.org\r\nBcc: victim@example.org", token="t", days=7, now=NOW
        )


def test_subjects() -> None:
    assert subject_for(edition_date=date(2026, 6, 22), cadence="weekly", top_title="X") == (
        "Trending papers — week of Mon 22 Jun: X"
    )
    long = subject_for(edition_date=date(2026, 6, 23), cadence="daily", top_title="word " * 50)
    assert len(long) < 130 and long.endswith("…")
    assert one_line("a\r\nb\tc\x00d  e") == "a b c d e"


def test_message_id_is_stable_per_edition() -> None:
    a = message_id_for(subscription_id=1, edition_date=date(2026, 6, 23), secret="k", domain="d")
    assert a == message_id_for(subscription_id=1, edition_date=date(2026, 6, 23), secret="k", domain="d")
    assert a != message_id_for(subscription_id=1, edition_date=date(2026, 6, 24), secret="k", domain="d")
    assert a != message_id_for(subscription_id=2, edition_date=date(2026, 6, 23), secret="k", domain="d")


def test_confirmation_mail() -> None:
    msg = reparse(render_confirmation(ctx=CTX, to="new@example.org", token="TOKEN", days=7, now=NOW))
    assert msg["Subject"] == "Confirm your Papertrend subscription"
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://papers.example.org/subscribe/confirm/TOKEN" in text and "7 days" in text


def _wire_cases() -> list[EmailMessage]:
    evil = make_paper("2606.00666", "Évil “title” <b>&</b>\r\nBcc: x@example.org " + "long " * 300)
    weekly = replace(SUB, prefs=Preferences(cadence="weekly"))
    return [
        digest(),
        digest(trending=[evil], for_you=[(evil, "topic with ünïcode " * 10)]),
        digest(sub=weekly, trending=[], for_you=[(make_paper("2606.00003", "Only for you"), "agents")]),
        render_confirmation(ctx=CTX, to="new@example.org", token="TOKEN", days=7, now=NOW),
        render_already(ctx=CTX, sub=SUB, now=NOW),
    ]


def test_wire_bytes_are_what_the_email_package_writes() -> None:
    # to_bytes writes our messages itself (issue #5: the generator was as slow as building them);
    # it must write exactly what the generator writes.
    for msg in _wire_cases():
        assert to_bytes(msg) == msg.as_bytes(policy=WIRE_POLICY)
    other = EmailMessage(policy=MAIL_POLICY)  # a shape this module does not build: the generator's
    other["Subject"] = "Hello"
    other.set_content("Hi.\nBye.\n", subtype="plain", charset="utf-8", cte="8bit")
    other.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream")
    assert to_bytes(other) == other.as_bytes(policy=WIRE_POLICY)


class _Events(HTMLParser):
    """An HTML document as a list of tags, attributes and text: escaping and spacing aside."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[object] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append((tag, sorted(attrs, key=lambda a: a[0])))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(f"/{tag}")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.events.append(" ".join(data.split()))


def test_templates_inlined_once_give_what_inlining_each_message_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    # The HTML templates' CSS is inlined when they load (issue #5), the paper blocks' with
    # digest.html's style sheet (rendered once per run, #13); inlining each whole message, as
    # before, must give the same document.
    plain = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    template = render_module._env.get_template("digest.html")
    seen: list[dict[str, object]] = []
    real = template.render

    def capture(context: dict[str, object], **papers: object) -> str:
        seen.append(context)
        return real(context, **papers)

    monkeypatch.setattr(template, "render", capture)
    evil = make_paper("2606.00666", 'Tom & "Jerry" <i>x</i>', code_url="https://example.org/?a=1&b=2")
    trending = [evil, make_paper("2606.00001", "Top paper")]
    mine = make_paper("2606.00003", "Agents & <b>friends</b>")
    msg = reparse(digest(trending=trending, for_you=[(mine, "agents")]))
    html = msg.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    [context] = seen
    blocks = plain.get_template("digest_papers.html").module
    not_interested = f"{CTX.root}/not-interested/" + link_token(
        secret=CTX.secret, subscription=SUB, purpose="not_interested"
    )
    papers = {
        "trending": [blocks.trending_paper(render_module._paper_view(CTX, p)) for p in trending],  # type: ignore[attr-defined]
        "for_you": [blocks.for_you_paper(render_module._paper_view(CTX, mine, "agents"), not_interested)],  # type: ignore[attr-defined]
    }
    before = inliner.inline(plain.get_template("digest.html").render(context, **papers))
    assert _Events(html).events == _Events(before).events
    assert (
        "&lt;i&gt;x&lt;/i&gt;" in html and "&lt;b&gt;friends" in html
    )  # the inlined templates autoescape too
    assert f'href="{not_interested}/2606.00003"' in html  # the reader's own link, put in after


def test_bidirectional_overrides_from_a_source_never_reach_the_digest() -> None:
    # Stored before ingest removed them (#12): U+202E turns "exe.txt" round for a reader.
    hostile = make_paper(
        "2606.00009",
        "Safe \u202etxt.exe\u202c title",
        abstract="An abstract \u2066with\u2069 an override \u202eknalb\u202c inside.",
        authors=["Eve \u202dAdversary\u202c"],
    )
    msg = reparse(digest(trending=[hostile], for_you=[]))
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    for body in (text_part.get_content(), html_part.get_content(), str(msg["Subject"])):
        assert not any(ch in body for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "Safe txt.exe title" in text_part.get_content()
    assert "an override knalb inside" in text_part.get_content()
