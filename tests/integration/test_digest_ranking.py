"""The digest's "For you" ranker over a window's papers: search/bm25.py's BM25 fused with meaning
(issues #5, #11)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import transaction
from papertrend.digest.ranking import WindowRanker
from tests.digest_support import add_papers, at, paper

DAY = date(2026, 6, 23)


class AxisEmbedder:
    """Three made-up directions of meaning: enough to tell semantic matches from word matches."""

    name = "axes"
    dim = 3
    AXES: ClassVar[dict[str, tuple[float, float, float]]] = {
        "social": (1.0, 0.0, 0.0),
        "vision": (0.0, 1.0, 0.0),
        "proteins": (0.0, 0.0, 1.0),
    }

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = []
        for text in texts:
            vec = np.zeros(3, dtype=np.float32)
            for word, axis in self.AXES.items():
                if word in text.lower():
                    vec += np.asarray(axis, dtype=np.float32)
            out.append(vec / (np.linalg.norm(vec) or 1.0))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), 3)


def test_window_ranker_fuses_words_and_meaning_over_new_papers(engine: Engine) -> None:
    import numpy as np

    from papertrend.papers.tables import papers
    from papertrend.search.vectors import store

    add_papers(
        engine,
        [
            paper("2606.00001", "Agents that simulate people", day=DAY),
            paper("2606.00002", "Crowds of synthetic humans", day=DAY, abstract="Populations of personas."),
            paper("2606.00003", "Protein design with diffusion", day=DAY),
            paper("2606.00004", "Older agents that simulate people", day=DAY - timedelta(days=5)),
        ],
    )
    meaning = {
        "2606.00001": "social",
        "2606.00002": "social",
        "2606.00003": "proteins",
        "2606.00004": "social",
    }
    with transaction(engine) as conn:
        pks = dict(conn.execute(sa.select(papers.c.id, papers.c.pk)).all())
        ids = sorted(meaning)
        vectors = AxisEmbedder().embed([meaning[i] for i in ids])
        store(conn=conn, model="axes", paper_pks=[pks[i] for i in ids], vectors=vectors, now=at(DAY))
    since = DAY - timedelta(days=1)
    words = WindowRanker(engine=engine, embedder=None)
    assert [h.paper_id for h in words("simulating people agents", since, 10)] == ["2606.00001"]
    assert [h.paper_id for h in words("people", DAY - timedelta(days=7), 10)] == ["2606.00001", "2606.00004"]
    both = WindowRanker(engine=engine, embedder=AxisEmbedder())  # type: ignore[arg-type]
    found = [h.paper_id for h in both("social simulation of people", since, 10)]
    # The word match first, then the paper that shares only the meaning; nothing older than `since`.
    assert found[:2] == ["2606.00001", "2606.00002"] and "2606.00004" not in found
    batched = WindowRanker(engine=engine, embedder=AxisEmbedder())  # type: ignore[arg-type]
    batched.prepare(["social simulation of people", "proteins"])
    assert [h.paper_id for h in batched("social simulation of people", since, 10)] == found
    assert batched("proteins", since, 1)[0].paper_id == "2606.00003"
    assert np.isfinite([h.score for h in both("proteins", since, 10)]).all()


def test_window_words_are_stemmed_and_scored_as_keyword_search_does(engine: Engine) -> None:
    from papertrend.search import bm25

    add_papers(
        engine,
        [
            paper("2606.00001", "Simulating societies with agents", day=DAY, abstract="Agents simulate."),
            paper("2606.00002", "Protein folding", day=DAY, abstract="A simulation of proteins."),
            paper("2606.00003", "Vision transformers", day=DAY, abstract="Images."),
        ],
    )
    ranker = WindowRanker(engine=engine, embedder=None)
    since = DAY - timedelta(days=1)
    # One stem (Porter: "simul") for simulating, simulate and simulation, as in keyword search.
    found = ranker("simulations", since, 10)
    assert [h.paper_id for h in found] == ["2606.00001", "2606.00002"]
    # The scores are search/bm25.py's: title words weigh 3, idf and lengths as FTS5 counts them.
    tok = bm25.Tokenizer()
    docs = [
        bm25.document(tok, (("Simulating societies with agents", 3.0), ("Agents simulate.", 1.0))),
        bm25.document(tok, (("Protein folding", 3.0), ("A simulation of proteins.", 1.0))),
        bm25.document(tok, (("Vision transformers", 3.0), ("Images.", 1.0))),
    ]
    postings = bm25.postings_of(
        ((i, f, n) for i, (f, n) in enumerate(docs)), signature=bm25.Signature(3, ""), weights=(3.0, 1.0, 0.0)
    )
    expected = postings.scores(["simul"])
    words = ranker.words("simulations", since, 10)
    assert [h.score for h in words] == [float(expected[0]), float(expected[1])]
