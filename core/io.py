"""Atomic file output: write to a temporary name in the same folder, then ``os.replace``.

A reader (or a resumed run) never sees a half-written report, JSON or figure.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path``; clean up on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def jsonable(obj: Any) -> Any:
    """Strict-JSON view of ``obj``: NaN/inf become None, tensor and numpy scalars plain numbers,
    paths strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return jsonable(obj.item())
    return obj


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented strict JSON, atomically."""
    return write_text_atomic(path, json.dumps(jsonable(data), indent=1, allow_nan=False) + "\n")


def save_npy_atomic(path: str | os.PathLike, array: Any) -> Path:
    """``numpy.save`` an array to ``path`` atomically."""
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.save would append .npy to a name
            np.save(f, np.asarray(array))

    return atomic(path, write)


def pyplot(extra: str = "plot") -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or an error naming the extra."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(f"figures need matplotlib: pip install 'scorelab[{extra}]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure_atomic(fig: Any, path: str | os.PathLike, **savefig_kw: Any) -> Path:
    """``fig.savefig`` through a temporary file, atomically (format from the suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    savefig_kw.setdefault("dpi", 120)
    savefig_kw.setdefault("bbox_inches", "tight")
    return atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kw))


def cache_dir(app: str, override: str | os.PathLike | None = None) -> Path:
    """An app's cache folder: ``override``, else ``$SCORELAB_CACHE/<app>``, else
    ``~/.cache/scorelab/<app>``."""
    if override is not None:
        return Path(override).expanduser()
    root = os.environ.get("SCORELAB_CACHE")
    return Path(root) / app if root else Path.home() / ".cache" / "scorelab" / app


def files_key(files: list[Path], *parts: object) -> str:
    """A short hash of ``parts`` and each file's resolved path, size and mtime: a cache key
    that goes stale when any source file changes."""
    items = [str(p) for p in parts]
    for f in files:
        st = Path(f).stat()
        items += [str(Path(f).resolve()), str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def package_files(package: str, names: list[str], install_hint: str) -> list[Path]:
    """Data files shipped inside an installed package, located without importing it (some
    data wheels import slowly or need extra modules); a clear error when any is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"needs the {package} package's data files: {install_hint}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = [folder / n for n in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"{package} is installed but lacks {missing}: {install_hint}")
    return files


__all__ = [
    "atomic",
    "cache_dir",
    "files_key",
    "package_files",
    "jsonable",
    "pyplot",
    "save_figure_atomic",
    "save_npy_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
