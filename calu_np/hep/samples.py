"""Save, load and check dimuon event samples stored as .npz archives.

An archive contains two arrays and no pickled objects:

- ``features``: float64, shape (n_events, 8), the (E, px, py, pz) of the μ+ and then of the
  μ−, in GeV (columns ``FEATURE_NAMES``);
- ``metadata``: a 0-d string array containing a JSON object that describes how the events were
  made (see ``generate_events``).

Class labels for the Higgs-versus-Z classifier are ``LABELS``: Higgs = 1, Z = 0.
"""

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from calu_np.hep.physics import FEATURE_NAMES
from calu_np.io import atomic_open

LABELS = {"higgs": 1, "z": 0}

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "hep"

# (process, sqrt_s in GeV, split) → file name in BUNDLED_DIR.
BUNDLED_FILES = {
    ("higgs", 13000, "train"): "higgs_13TeV_train.npz",
    ("z", 13000, "train"): "z_13TeV_train.npz",
    ("higgs", 13000, "test"): "higgs_13TeV_test.npz",
    ("z", 13000, "test"): "z_13TeV_test.npz",
    ("higgs", 100000, "test"): "higgs_100TeV_test.npz",
    ("z", 100000, "test"): "z_100TeV_test.npz",
}

# A muon has E − |p| ≈ m²/2E > 0, only about 6e-11 of E at 10 TeV, so float64 rounding may put E
# a few ulps below |p|. Only a deficit beyond 1e-9 of E is rejected.
ENERGY_MOMENTUM_RTOL = 1e-9

# Errors that numpy and zipfile raise on a missing, unreadable, truncated or non-npz file.
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def save_sample(path, features, metadata):
    """Write ``features`` and ``metadata`` to the .npz archive ``path`` atomically.

    The archive is written to a temporary file in the same folder and then renamed over
    ``path``, so a reader never sees a half-written file. The features are checked as
    ``load_sample`` checks them, so a sample that saves also loads.

    Raises
    ------
    ValueError
        If the features fail a check, ``metadata`` is not a JSON-serialisable dict, or the
        folder of ``path`` does not exist.
    OSError
        If writing fails for another reason, such as a missing permission.
    """
    path = Path(path)
    features = _check_features(features, path)
    metadata_json = _encode_metadata(metadata, len(features), path)

    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{path}: cannot write the sample because folder {folder} does not exist")

    with atomic_open(path, "wb") as file:
        np.savez_compressed(file, features=features, metadata=np.array(metadata_json))


def load_sample(path):
    """Read and check an event sample written by ``save_sample``.

    Returns
    -------
    features : ndarray of float64, shape (n_events, 8)
    metadata : dict

    Raises
    ------
    ValueError
        With a one-line message naming the file and the problem, if the file cannot be read,
        is not an .npz archive with ``features`` and ``metadata``, or the features fail a
        check: shape (n, 8) with n ≥ 1, finite values, both muons present (E > 0), and
        E ≥ |p| for each muon up to a relative rounding tolerance of 1e-9.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS as err:
        raise ValueError(f"{path}: cannot read the file as an .npz archive: {_first_line(err)}") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: is a .npy file with a single array, not an .npz archive")

    with archive:
        missing = sorted({"features", "metadata"} - set(archive.files))
        if missing:
            raise ValueError(
                f"{path}: not an event sample, the archive has no {' or '.join(missing)} array"
            )
        try:
            features = archive["features"]
            metadata_array = archive["metadata"]
        except _READ_ERRORS as err:
            raise ValueError(f"{path}: cannot read the archive: {_first_line(err)}") from err

    for name, value in (("features", features), ("metadata", metadata_array)):
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{path}: the {name} entry is not a valid .npy array")

    features = _check_features(features, path)
    metadata = _decode_metadata(metadata_array, len(features), path)
    return features, metadata


def load_bundled(process, sqrt_s, split):
    """Load one of the event samples shipped with calu_np.

    Available: ``process`` "higgs" or "z"; ``sqrt_s`` 13000 with ``split`` "train" (3,000
    events) or "test" (1,000 events), and ``sqrt_s`` 100000 with ``split`` "test" (1,000
    events). ``sqrt_s`` is in GeV. Returns ``(features, metadata)`` as ``load_sample`` does.
    """
    key = (process, sqrt_s, split)
    file_name = BUNDLED_FILES.get(key)
    if file_name is None:
        choices = ", ".join(f"({p!r}, {s}, {t!r})" for p, s, t in BUNDLED_FILES)
        raise ValueError(
            f"no bundled sample for process={process!r}, sqrt_s={sqrt_s!r}, split={split!r}; "
            f"choose one of {choices}"
        )
    return load_sample(BUNDLED_DIR / file_name)


def load_bundled_classification(sqrt_s, split):
    """Load the bundled Higgs and Z samples of one energy and split as a labelled data set.

    Returns ``(features, y)``: features of shape (n_higgs + n_z, 8) with the Higgs events
    first, unshuffled, and integer labels ``y`` from ``LABELS`` (Higgs = 1, Z = 0).
    """
    parts = []
    targets = []
    for process in ("higgs", "z"):
        features, _ = load_bundled(process, sqrt_s, split)
        parts.append(features)
        targets.append(labels(process, len(features)))
    return np.concatenate(parts), np.concatenate(targets)


def labels(process, n_events):
    """Return ``n_events`` copies of the class label of ``process`` (Higgs = 1, Z = 0), as int64."""
    if process not in LABELS:
        raise ValueError(f"invalid process {process!r}; use 'higgs' or 'z'")
    return np.full(n_events, LABELS[process], dtype=np.int64)


def _check_features(features, path):
    """Return ``features`` as a C-contiguous float64 array after the sample checks."""
    features = np.asarray(features)
    if features.dtype == np.bool_ or not (
        np.issubdtype(features.dtype, np.floating) or np.issubdtype(features.dtype, np.integer)
    ):
        raise ValueError(f"{path}: features have dtype {features.dtype}, expected real numbers (float64)")

    n_columns = len(FEATURE_NAMES)
    if features.ndim != 2 or features.shape[1] != n_columns:
        raise ValueError(
            f"{path}: features have shape {features.shape}, expected (n_events, {n_columns})"
        )
    if features.shape[0] == 0:
        raise ValueError(f"{path}: the sample contains no events")
    features = np.ascontiguousarray(features, dtype=np.float64)

    bad_rows = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"{path}: {bad_rows.size} event(s) have NaN or infinite values, the first is row {bad_rows[0]}"
        )

    for muon, start in (("mu+", 0), ("mu-", 4)):
        energy = features[:, start]
        momentum = np.linalg.norm(features[:, start + 1:start + 4], axis=1)

        # An all-zero block, the usual placeholder for a muon that was not found, has E = 0.
        missing = np.flatnonzero(energy <= 0)
        if missing.size:
            row = missing[0]
            raise ValueError(
                f"{path}: {missing.size} event(s) have a missing {muon} (E <= 0), "
                f"the first is row {row} with E = {float(energy[row])!r}"
            )

        spacelike = np.flatnonzero(energy - momentum < -ENERGY_MOMENTUM_RTOL * energy)
        if spacelike.size:
            row = spacelike[0]
            raise ValueError(
                f"{path}: {spacelike.size} event(s) have a {muon} with E < |p|, the first is row "
                f"{row} with E = {float(energy[row])!r} GeV and |p| = {float(momentum[row])!r} GeV"
            )
    return features


def _encode_metadata(metadata, n_events, path):
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: metadata must be a dict, got {type(metadata).__name__}")
    _check_event_count(metadata, n_events, path)
    try:
        return json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: metadata cannot be stored as JSON: {err}") from err


def _decode_metadata(metadata_array, n_events, path):
    if metadata_array.shape != () or metadata_array.dtype.kind != "U":
        raise ValueError(
            f"{path}: metadata must be a 0-d string array, got dtype {metadata_array.dtype} "
            f"and shape {metadata_array.shape}"
        )
    try:
        metadata = json.loads(metadata_array.item())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: metadata is not valid JSON: {err}") from err
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: metadata must be a JSON object, got {type(metadata).__name__}")
    _check_event_count(metadata, n_events, path)
    return metadata


def _check_event_count(metadata, n_events, path):
    recorded = metadata.get("n_events")
    if recorded is not None and recorded != n_events:
        raise ValueError(
            f"{path}: metadata records n_events = {recorded!r} but the features have {n_events} rows"
        )


def _first_line(err):
    lines = str(err).splitlines()
    return lines[0] if lines else type(err).__name__
