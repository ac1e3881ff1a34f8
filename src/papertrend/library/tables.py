"""Tables of readers' libraries (issue #13), on the single `metadata` of papertrend.schema.

Importing this module registers them; migration 0013 creates them. "Your upvotes" is no table of its
own: it is read from `votes`.
"""

from __future__ import annotations

import sqlalchemy as sa

from papertrend.sql import UTCDateTime, metadata

# Named collections of saved papers; each user gets "Saved" on first save. `public_token` is set while
# the collection is shared by link (read-only page + Atom feed) and NULL while it is private (the
# default). Names are unique per user, compared as given (the service trims and checks them).
collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("public_token", sa.String(64), nullable=True, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("user_id", "name", name="uq_collections_user_id_name"),
)

# Papers in a collection; a paper may sit in several collections of one user.
collection_papers = sa.Table(
    "collection_papers",
    metadata,
    sa.Column(
        "collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("added_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_collection_papers_paper_pk", collection_papers.c.paper_pk)

# What a reader told us about a paper outside the library: "not interested" (a negative for the
# recommender). One row per user, paper and kind.
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Authors a reader follows, by name as arXiv spells it; `name_key` (case-folded, spaces squeezed) is
# what matching compares, so "Ada  LOVELACE" and "Ada Lovelace" are one author.
followed_authors = sa.Table(
    "followed_authors",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name_key", sa.String(300), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
