"""The keyword model's vectorizer kept in a file (#13): the same rows after a round trip, no pickle,
and a missing or broken file reads as none."""

from __future__ import annotations

from pathlib import Path

from papertrend.library import keywords

TEXTS = [f"alpha{i % 37} beta{i % 53} gamma{i % 71} delta{i % 13} paper {i}" for i in range(900)]


def test_a_saved_vectorizer_gives_the_same_rows(tmp_path: Path) -> None:
    fitted = keywords.fit(TEXTS)
    path = tmp_path / "kw.npz"
    keywords.save(fitted, path, papers=900)
    held = keywords.load(path)
    assert held is not None and held[1] == 900
    assert abs(keywords.rows(fitted, TEXTS[:20]) - keywords.rows(held[0], TEXTS[:20])).max() == 0


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
