"""What every embedding model's loader shares: its packages and files, found and checked without network.

Split from search/embedder.py (#11: no module over ~500 lines).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Device = Literal["cpu", "cuda"]


class MissingPackageError(ImportError, RuntimeError):
    """A model's package is not installed. Both an ImportError and a RuntimeError, so a caller that
    reports either kind of load failure (the CLI catches RuntimeError) reports this one too."""


def cpu_cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def require(module: str, distribution: str, model: str) -> Any:
    """Import a model's package, or say which one to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPackageError(
            f"embedding model {model!r} needs the Python package {distribution!r}: pip install {distribution}"
        ) from exc


def package_dir(module: str, distribution: str, model: str) -> Path:
    """Where an installed package lives, without importing (and so running) it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"embedding model {model!r} needs the Python package {distribution!r} for its model files: "
            f"pip install {distribution}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def checked_file(path: Path, sha256: str, distribution: str, model: str) -> Path:
    """The file, if it is there with the pinned sha256; else a RuntimeError that says how to mend it."""
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


def normalised(vectors: Vectors) -> Vectors:
    """Rows scaled to unit length; a zero row stays zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # A text with no known token has a zero vector; leave it zero rather than divide by zero.
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
