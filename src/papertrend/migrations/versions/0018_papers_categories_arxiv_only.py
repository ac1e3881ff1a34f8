"""Categories hold arXiv categories only (#14): ACM classes and MSC codes that sources mixed in go.

The arXiv API's <category> elements and scraped listing pages carry ACM classes ("I.2.7; H.3.3") and
MSC codes ("68T05, 62H30"); ingest kept them as categories, so 1,329 of the 80k store's papers showed
them on their pages and in the API. Ingest now keeps arXiv's codes only (papers/categories.py); this
rewrites the stored lists the same way, with the rule as it stands, batch by batch. `changed_at`
stays: no text changes, so no derived index has anything to redo.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from papertrend.papers.categories import arxiv_categories

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BATCH = 5000
_papers = sa.table("papers", sa.column("pk", sa.Integer), sa.column("categories", sa.JSON))


def upgrade() -> None:
    conn = op.get_bind()
    update = (
        _papers.update()
        .where(_papers.c.pk == sa.bindparam("b_pk"))
        .values(categories=sa.bindparam("b_categories", type_=sa.JSON))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_papers.c.pk, _papers.c.categories)
            .where(_papers.c.pk > last)
            .order_by(_papers.c.pk)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        changed = []
        for pk, categories in rows:
            kept = arxiv_categories(categories if isinstance(categories, list) else [])
            if kept != categories:
                changed.append({"b_pk": pk, "b_categories": kept})
        if changed:
            conn.execute(update, changed)
        last = rows[-1][0]


def downgrade() -> None:
    """Nothing to restore: the dropped values were never arXiv categories."""
