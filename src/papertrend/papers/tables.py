"""The papers room's tables: papers and the upvotes cast here (DESIGN §4)."""

from __future__ import annotations

import sqlalchemy as sa

from papertrend.sql import UTCDateTime, metadata, utc_day

# One row per paper, keyed by the arXiv id without version (issue #2). Bibliographic fields come from
# arXiv sources; hf_* and github_* are signals imported from Hugging Face and never overwrite them.
# `pk` is a stable integer handle: SQLite's FTS5 index and the ANN index key rows by integer, and an
# implicit rowid could be renumbered by VACUUM (issue #3).
papers = sa.Table(
    "papers",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("primary_category", sa.String(64), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("journal_ref", sa.Text, nullable=True),
    sa.Column("doi", sa.String(255), nullable=True),
    sa.Column("license", sa.String(255), nullable=True),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    # The day the paper was announced in an arXiv listing, or else put on HF's daily page: what the
    # daily, weekly and monthly listings group by.
    sa.Column("listed_on", sa.Date, nullable=True),
    sa.Column("pdf_url", sa.Text, nullable=True),
    sa.Column("code_url", sa.Text, nullable=True),
    sa.Column("project_url", sa.Text, nullable=True),
    sa.Column("hf_upvotes", sa.Integer, nullable=True),
    sa.Column("hf_comments", sa.Integer, nullable=True),
    sa.Column("hf_daily_on", sa.Date, nullable=True),
    sa.Column("hf_submitted_at", UTCDateTime(), nullable=True),
    sa.Column("hf_ai_summary", sa.Text, nullable=True),
    sa.Column("hf_ai_keywords", sa.JSON, nullable=True),
    # Who put it on the daily page: Hugging Face's user object, as ingest.sources.hf_daily.submitter keeps it.
    sa.Column("hf_submitted_by", sa.JSON, nullable=True),
    sa.Column("github_stars", sa.Integer, nullable=True),
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    # Never reuse the pk of a deleted paper: derived indexes may still hold it.
    sqlite_autoincrement=True,
)
sa.Index("ix_papers_listed_on", papers.c.listed_on)
# Daily, weekly and monthly listings filter on this expression (papers.repository.listing_day_expr):
# on the 85k corpus a day page took ~480 ms without the index and 10–28 ms with it.
sa.Index(
    "ix_papers_listing_day",
    sa.func.coalesce(papers.c.listed_on, papers.c.hf_daily_on, utc_day(papers.c.published_at)),
)
sa.Index("ix_papers_hf_daily_on", papers.c.hf_daily_on)
sa.Index("ix_papers_published_at", papers.c.published_at)
# The in-memory keyword index's freshness check reads max(changed_at) (search/bm25.py).
sa.Index("ix_papers_changed_at", papers.c.changed_at)

# One vote per user and paper (issue #4, part 2); an upvote toggles the row. Counts are read per
# paper, so the paper comes second in a second index.
votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_votes_paper_pk", votes.c.paper_pk)
