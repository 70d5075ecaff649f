"""Saving and loading models as .npz files: arrays plus a JSON metadata string, never pickle.

A model file holds, for every layer i, "i.logits", "i.theta" (if the phasor is trainable),
"i.frozen" and "i.fixed_M", and a "metadata" entry: a JSON text with the layer spec, each
layer's Q (as [real, imag] pairs), the library version and whatever the caller adds.
"""

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from . import __version__
from .network import Network
from .spec import parse_layers

FORMAT = "calu_np.model/1"


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temporary file beside `path` and rename it over `path` when the block ends without error.

    `mode` is "w" or "wb", and other keyword arguments go to `open`. A failed block or write leaves
    `path` as it was and removes the temporary file, so no reader sees a half-written file.
    Raises ValueError if the folder of `path` does not exist.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"invalid mode {mode!r}: expected 'w' or 'wb'")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file readable by its owner only, so give it the usual mode instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def save_figure(figure, path, dpi=110):
    """Save a matplotlib figure to `path` atomically, in the format its extension names (PNG by default)."""
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    with atomic_open(path, "wb") as stream:
        figure.savefig(stream, dpi=dpi, format=extension or "png")


def _encode_q(q):
    return [[float(v.real), float(v.imag)] for v in np.asarray(q, dtype=np.complex128)]


def save_model(path, network, metadata=None):
    """Write `network` and `metadata` (a JSON-serialisable dict) to `path` atomically.

    The file is written to a temporary name in the same folder and renamed over `path`, so a
    failed write never leaves a half-written model. Raises ValueError if any weight is NaN or
    infinite, or if the folder does not exist.
    """
    path = os.fspath(path)
    arrays = {}
    for key, value in network.params.items():
        arrays[key] = value
    for i, layer in enumerate(network.layers):
        arrays[f"{i}.frozen"] = layer.frozen
        arrays[f"{i}.fixed_M"] = layer.fixed_M
    for key, value in arrays.items():
        if value.dtype != bool and not np.all(np.isfinite(value)):
            raise ValueError(f"refusing to save {path}: the weights {key!r} contain NaN or inf")

    full_metadata = {
        "format": FORMAT,
        "calu_np_version": __version__,
        "layers": str(network.spec),
        "q": [_encode_q(layer.q) for layer in network.layers],
    }
    full_metadata.update(metadata or {})
    arrays["metadata"] = np.array(json.dumps(full_metadata))

    with atomic_open(path, "wb") as stream:
        np.savez(stream, **arrays)


def load_model(path):
    """Read a model written by `save_model`. Returns (network, metadata).

    Raises ValueError with a one-line reason for a missing, unreadable or malformed file.
    """
    path = os.fspath(path)
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise ValueError(f"cannot read model {path}: not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ValueError(f"cannot read model {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"cannot read model {path}: it is a directory") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"cannot read model {path}: not a calu-np .npz model ({error})") from None
    if not isinstance(arrays, dict) or "metadata" not in arrays:
        raise ValueError(f"cannot read model {path}: no metadata entry, so it is not a calu-np model")

    try:
        metadata = json.loads(str(arrays.pop("metadata")))
        spec = parse_layers(metadata["layers"])
        q_sets = [np.array([complex(re, im) for re, im in q], dtype=np.complex128) for q in metadata["q"]]
        network = Network(spec, q_sets)
        params = {}
        for key, shape in network.parameter_shapes().items():
            value = arrays[key]
            if value.shape != shape:
                raise ValueError(f"{key} has shape {value.shape}, expected {shape}")
            params[key] = value.astype(np.float64)
        network.params = params
        for i, layer in enumerate(network.layers):
            frozen = arrays[f"{i}.frozen"]
            fixed_M = arrays[f"{i}.fixed_M"]
            if frozen.shape != layer.frozen.shape or fixed_M.shape != layer.fixed_M.shape:
                raise ValueError(f"layer {i} has frozen weights of the wrong shape")
            layer.frozen[...] = frozen
            layer.fixed_M[...] = fixed_M
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read model {path}: malformed contents ({error})") from None
    return network, metadata
