"""PostgreSQL keyword index: a weighted tsvector over title, abstract and authors, GIN-indexed (issue #6).

The PostgreSQL twin of 0002's FTS5 table (a no-op on SQLite). A STORED generated column keeps itself
current on every insert and update, so no trigger and no `index_new` step is needed. Title weighs A,
abstract B (English stemming, as FTS5's porter tokenizer does), authors C with the `simple`
configuration so names are not stemmed. `authors` is a JSON array of names: `to_tsvector(regconfig,
json)` indexes its string values and is IMMUTABLE, as a generated column requires (casting to text or
calling json_array_elements would not be).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# PostgreSQL's parser reads "Sentinel-2" as 'sentinel' and '-2', "3.5" as one number and a URL as a
# host and a path, and drops whatever looks like an XML tag or entity with the words inside
# ("<script>alert(1)</script> & a title" indexes only "title"), where FTS5's unicode61 (and the
# query parser, search/query.py) splits at every such mark and keeps every word. Turning these
# marks into spaces first makes both databases see the same words.
_SPLIT = "'-./_:@<>&', '         '"
SEARCH_TSV = (
    f"setweight(to_tsvector('english', translate(coalesce(title, ''), {_SPLIT})), 'A') || "
    f"setweight(to_tsvector('english', translate(coalesce(abstract, ''), {_SPLIT})), 'B') || "
    "setweight(to_tsvector('simple', coalesce(authors, '[]'::json)), 'C')"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE papers ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({SEARCH_TSV}) STORED")
    op.execute("CREATE INDEX ix_papers_search_tsv ON papers USING gin (search_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_papers_search_tsv")
    op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_tsv")
