"""PostgreSQL keyword ranking: BM25 postings derived from the weighted tsvector (issues #3, #6).

`ts_rank` over 0007's tsvector scored nDCG@10 0.536 on SciFact test (`ts_rank_cd` 0.376), far below
SQLite's FTS5 bm25 (0.692), and it must read every matching tsvector to rank them. So PostgreSQL ranks
with the same BM25 as FTS5, from a postings table: one row per (lexeme, paper) holding the lexeme's
counts in title (weight A), abstract (B) and authors (C) and the paper's length in tokens, read
through a covering index so a query sums index entries and never touches `papers`; measured 0.696
on SciFact test. The tsvector and its GIN index still answer required phrases, exclusions and
all-words matching.

New papers are indexed set-based by `search.keyword.index_new` (as FTS5's are); a changed title,
abstract or author list re-indexes by trigger, and a deleted paper leaves by trigger. `keyword_stats`
holds the paper count and total length BM25 needs, kept by the same paths. A no-op on SQLite.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Index the given papers: their postings, lengths and the totals. One statement for a whole batch;
# `search.keyword.index_new` calls it for new papers, the trigger below for changed ones.
_INDEX = """
    CREATE FUNCTION keyword_index(pks integer[]) RETURNS void LANGUAGE sql AS $$
    WITH u AS (
        SELECT p.pk, x.lexeme, x.positions, x.weights
        FROM papers p, unnest(p.search_tsv) AS x WHERE p.pk = ANY(pks)
    ), lens AS (
        SELECT pk, sum(cardinality(positions))::integer AS doc_len FROM u GROUP BY pk
    ), add_docs AS (
        INSERT INTO keyword_docs (paper_pk, doc_len) SELECT pk, doc_len FROM lens
    ), add_totals AS (
        UPDATE keyword_stats SET docs = docs + (SELECT count(*) FROM lens),
            total_len = total_len + (SELECT coalesce(sum(doc_len), 0) FROM lens)
    )
    INSERT INTO keyword_postings (lexeme, paper_pk, tf_title, tf_abstract, tf_authors, doc_len)
    SELECT u.lexeme, u.pk,
        cardinality(array_positions(u.weights, 'A')),
        cardinality(array_positions(u.weights, 'B')),
        cardinality(array_positions(u.weights, 'C')),
        lens.doc_len
    FROM u JOIN lens USING (pk)
    $$
"""

# Take one paper out of the index (before re-indexing it, or when it is deleted).
_FORGET = """
    CREATE FUNCTION keyword_forget(paper integer) RETURNS void LANGUAGE sql AS $$
        UPDATE keyword_stats s SET docs = s.docs - 1, total_len = s.total_len - d.doc_len
        FROM keyword_docs d WHERE d.paper_pk = paper;
        DELETE FROM keyword_postings WHERE paper_pk = paper;
        DELETE FROM keyword_docs WHERE paper_pk = paper;
    $$
"""

_ON_CHANGE = """
    CREATE FUNCTION keyword_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM keyword_forget(OLD.pk);
        IF TG_OP = 'UPDATE' THEN
            PERFORM keyword_index(ARRAY[NEW.pk]);
        END IF;
        RETURN NULL;
    END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """CREATE TABLE keyword_postings (
            lexeme text NOT NULL,
            paper_pk integer NOT NULL,
            tf_title smallint NOT NULL,
            tf_abstract smallint NOT NULL,
            tf_authors smallint NOT NULL,
            doc_len integer NOT NULL
        )"""
    )
    # The ranking query reads (lexeme → paper, counts, length) from this index alone.
    op.execute(
        "CREATE INDEX ix_keyword_postings_lexeme ON keyword_postings (lexeme) "
        "INCLUDE (paper_pk, tf_title, tf_abstract, tf_authors, doc_len)"
    )
    op.execute("CREATE INDEX ix_keyword_postings_paper ON keyword_postings (paper_pk)")
    op.execute("CREATE TABLE keyword_docs (paper_pk integer PRIMARY KEY, doc_len integer NOT NULL)")
    op.execute(
        "CREATE TABLE keyword_stats (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
        "docs bigint NOT NULL, total_len bigint NOT NULL)"
    )
    op.execute("INSERT INTO keyword_stats (docs, total_len) VALUES (0, 0)")
    op.execute(_INDEX)
    op.execute(_FORGET)
    op.execute(_ON_CHANGE)
    # Only when the indexed text changed: an upvote count moving must not re-index the abstract.
    op.execute(
        """CREATE TRIGGER keyword_reindex_update AFTER UPDATE OF title, abstract, authors ON papers
        FOR EACH ROW WHEN (OLD.search_tsv IS DISTINCT FROM NEW.search_tsv)
        EXECUTE FUNCTION keyword_reindex()"""
    )
    op.execute(
        "CREATE TRIGGER keyword_reindex_delete AFTER DELETE ON papers "
        "FOR EACH ROW EXECUTE FUNCTION keyword_reindex()"
    )
    op.execute("SELECT keyword_index(ARRAY(SELECT pk FROM papers))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS keyword_reindex_update ON papers")
    op.execute("DROP TRIGGER IF EXISTS keyword_reindex_delete ON papers")
    op.execute("DROP FUNCTION IF EXISTS keyword_reindex()")
    op.execute("DROP FUNCTION IF EXISTS keyword_forget(integer)")
    op.execute("DROP FUNCTION IF EXISTS keyword_index(integer[])")
    for table in ("keyword_postings", "keyword_docs", "keyword_stats"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
