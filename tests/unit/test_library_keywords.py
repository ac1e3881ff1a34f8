"""The keyword model's vectorizer kept in a file (#13): the same rows after a round trip, no pickle,
and a missing or broken file reads as none."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from papertrend.library import keywords, metadata

TEXTS = [f"alpha{i % 37} beta{i % 53} gamma{i % 71} delta{i % 13} paper {i}" for i in range(900)]


def test_a_saved_vectorizer_gives_the_same_rows(tmp_path: Path) -> None:
    fitted = keywords.fit(TEXTS)
    path = tmp_path / "kw.npz"
    keywords.save(fitted, path, papers=900)
    held = keywords.load(path)
    assert held is not None and held[1] == 900
    assert abs(keywords.rows(fitted, TEXTS[:20]) - keywords.rows(held[0], TEXTS[:20])).max() == 0


def test_a_file_of_another_recipe_reads_as_none_so_the_vectorizer_is_fitted_again(tmp_path: Path) -> None:
    fitted = keywords.fit(TEXTS)
    path = tmp_path / "kw.npz"
    keywords.save(fitted, path, papers=900)
    with np.load(path) as held:
        kept = dict(held)
    np.savez(path, **{**kept, "recipe": np.asarray(["tfidf-20k-mindf5"])})
    assert keywords.load(path) is None
    # The format before RECIPE: terms as a numpy string array, no recipe.
    terms = sorted(fitted.vocabulary_, key=fitted.vocabulary_.get)
    np.savez(path, terms=np.asarray(terms, dtype=str), idf=fitted.idf_, papers=np.asarray([900]))
    assert keywords.load(path) is None


def test_the_vocabulary_keeps_terms_of_two_papers_beyond_twenty_thousand() -> None:
    # arxiv-sanity's recipe keeps 20k terms seen in 5+ papers; ours keeps a name two papers share.
    texts = [f"w{i} w{i + 1} common{i % 7} filler{i % 11}" for i in range(30_000)]
    texts += ["the zorblax benchmark", "zorblax again"]
    fitted = keywords.fit(texts)
    assert len(fitted.vocabulary_) > 20_000 and "zorblax" in fitted.vocabulary_
    assert "zorblax" not in keywords.fit(texts, max_features=20_000, min_df=5).vocabulary_


def test_missing_or_broken_files_read_as_none(tmp_path: Path) -> None:
    assert keywords.load(tmp_path / "none.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert keywords.load(tmp_path / "bad.npz") is None


def test_too_few_texts_fit_nothing() -> None:
    assert keywords.fit(["the same words"] * 3) is None


def test_kept_rows_are_read_back_and_recomputed_when_a_text_changes(tmp_path: Path) -> None:
    fitted = keywords.fit(TEXTS)
    path = tmp_path / "rows.npz"
    version = keywords.version(fitted)
    first = keywords.RowStore(path, version)
    texts = {pk: TEXTS[pk] for pk in (5, 1, 700, 33)}
    made = first.rows(fitted, texts)
    assert first.added == 4 and abs(made - keywords.rows(fitted, list(texts.values()))).max() == 0
    first.save()
    again = keywords.RowStore(path, version)
    changed = {**texts, 700: "alpha1 beta2 gamma3 something new"}
    read = again.rows(fitted, changed)
    assert again.added == 1  # only the paper whose text changed
    assert abs(read - keywords.rows(fitted, list(changed.values()))).max() == 0
    assert read.shape == made.shape and (read[:2] != made[:2]).nnz == 0 and (read[2] != made[2]).nnz > 0
    # A run that used only some rows keeps the others too.
    again.save()
    part = keywords.RowStore(path, version)
    part.rows(fitted, {1: TEXTS[1], 2: TEXTS[2]})
    part.save()
    assert set(keywords.RowStore(path, version).index) == {1, 2, 5, 33, 700}
    # Rows of another vectorizer are not read at all; a broken file reads as empty.
    other = keywords.fit(TEXTS[:600])
    assert keywords.version(other) != version
    assert keywords.RowStore(path, keywords.version(other)).index == {}
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert keywords.RowStore(tmp_path / "bad.npz", version).index == {}


def test_paper_rows_are_computed_once_and_returned_in_the_asked_order() -> None:
    kept = keywords.PaperRows()
    kept.ensure({7: metadata.text("ICLR 2026", ["cs.LG"]), 3: metadata.text("", ["cs.CV"])}, metadata.rows)
    first = kept.matrix
    kept.ensure({7: metadata.text("changed: ignored, the row is kept", [])}, metadata.rows)
    assert kept.matrix is first
    got = kept.get([3, 99, 7])  # 99 has no row: left out
    assert got.shape[0] == 2
    np.testing.assert_allclose(
        got.toarray(),
        metadata.rows([metadata.text("", ["cs.CV"]), metadata.text("ICLR 2026", ["cs.LG"])]).toarray(),
    )
    assert kept.get([99]) is None


def test_paper_rows_added_from_many_threads_are_all_kept_and_right() -> None:
    """The page's requests share a window's rows: rows added at once from several threads are never
    lost nor read before they are there."""
    kept = keywords.PaperRows()
    texts = {pk: metadata.text(f"venue {pk % 17} pages {pk}", [f"cs.X{pk % 5}"]) for pk in range(2_000)}
    errors: list[BaseException] = []

    def add(first: int) -> None:
        try:
            for start in range(first, 2_000, 80):
                chunk = {pk: texts[pk] for pk in range(start, min(start + 10, 2_000))}
                kept.ensure(chunk, metadata.rows)
                got = kept.get(list(chunk))
                assert got is not None and got.shape[0] == len(chunk)
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(10 * i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert kept.matrix.shape[0] == len(kept.index) == 2_000
    want = metadata.rows([texts[pk] for pk in range(2_000)])
    assert (kept.get(list(range(2_000))) != want).nnz == 0
