"""What the mail rendering tests share (issues #5, #13): a mail context, a subscriber, a paper with every
field set, a rendered digest, and a message read back from its bytes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from papertrend.digest.render import message_id_for, render_digest
from papertrend.digest.subscriptions import Preferences, Subscription
from papertrend.mail.message import MailContext, to_bytes
from papertrend.papers.models import Paper

NOW = datetime(2026, 6, 23, 8, 0, tzinfo=UTC)
CTX = MailContext(
    base_url="https://papers.example.org/", mail_from="Papertrend <digest@example.org>", secret="s" * 40
)
SUB = Subscription(
    id=7,
    email="reader@example.org",
    email_key="reader@example.org",
    status="confirmed",
    prefs=Preferences(topics=("agents",)),
    link_salt="salt",
    created_at=NOW,
)


def make_paper(pid: str, title: str, **kw: object) -> Paper:
    """A stored paper with every field set; `kw` changes some."""
    values: dict[str, object] = {
        "pk": 1,
        "id": pid,
        "version": 1,
        "title": title,
        "abstract": "We study things. " * 40,
        "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"],
        "categories": ["cs.CL"],
        "primary_category": "cs.CL",
        "comment": None,
        "journal_ref": None,
        "doi": None,
        "license": None,
        "published_at": NOW,
        "updated_at": NOW,
        "listed_on": NOW.date(),
        "pdf_url": None,
        "code_url": "https://github.com/example/repo",
        "project_url": None,
        "hf_upvotes": 12,
        "hf_comments": None,
        "hf_daily_on": None,
        "hf_submitted_at": None,
        "hf_ai_summary": None,
        "hf_ai_keywords": None,
        "github_stars": None,
        "sources": ["test"],
        "first_seen_at": NOW,
        "changed_at": NOW,
    }
    values.update(kw)
    return Paper(**values)  # type: ignore[arg-type]


def digest(**kw: object) -> EmailMessage:
    """A rendered digest for SUB with two trending papers and one "For you"; `kw` changes arguments."""
    args: dict[str, object] = {
        "ctx": CTX,
        "sub": SUB,
        "edition_date": date(2026, 6, 23),
        "created_at": NOW,
        "message_id": message_id_for(
            subscription_id=7, edition_date=date(2026, 6, 23), secret="k", domain="x.org"
        ),
        "trending": [make_paper("2606.00001", "Top paper"), make_paper("2606.00002", "Second")],
        "for_you": [(make_paper("2606.00003", "Agents paper"), "agents")],
    }
    args.update(kw)
    return render_digest(**args)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    """The message as a mail client reads it back from its bytes."""
    parsed = message_from_bytes(to_bytes(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
