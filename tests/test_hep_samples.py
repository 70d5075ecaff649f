"""Tests for the dimuon event samples: bundled files, save/load checks, physics helpers, generator."""

import json

import numpy as np
import pytest

from calu_np.hep import (
    FEATURE_NAMES,
    LABELS,
    generate_events,
    invariant_mass,
    labels,
    load_bundled,
    load_bundled_classification,
    load_sample,
    minkowski_dot,
    save_sample,
)
from calu_np.hep.samples import BUNDLED_FILES

Z_MASS = 91.19
HIGGS_MASS = 125.0
MUON_MASS = 0.10566


def muon_pair(mass, n_events, seed=0):
    """Return back-to-back μ+μ− pairs of the given invariant mass, boosted along z."""
    rng = np.random.default_rng(seed)
    cos_theta = rng.uniform(-1, 1, n_events)
    phi = rng.uniform(0, 2 * np.pi, n_events)
    sin_theta = np.sqrt(1 - cos_theta**2)
    p = np.sqrt((mass / 2) ** 2 - MUON_MASS**2)
    direction = np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1)
    energy = np.full(n_events, mass / 2)

    rapidity = rng.uniform(-2, 2, n_events)
    features = np.empty((n_events, 8))
    for start, sign in ((0, 1), (4, -1)):
        pz = sign * p * direction[:, 2]
        features[:, start] = energy * np.cosh(rapidity) + pz * np.sinh(rapidity)
        features[:, start + 1:start + 3] = sign * p * direction[:, :2]
        features[:, start + 3] = energy * np.sinh(rapidity) + pz * np.cosh(rapidity)
    return features


@pytest.fixture
def sample():
    features = muon_pair(HIGGS_MASS, 20)
    metadata = {"process": "higgs", "n_events": 20, "settings": ["Beams:eCM = 13000.0"]}
    return features, metadata


# Bundled samples

@pytest.mark.parametrize("key", list(BUNDLED_FILES), ids=list(BUNDLED_FILES.values()))
def test_bundled_sample_loads(key):
    process, sqrt_s, split = key
    features, metadata = load_bundled(process, sqrt_s, split)

    expected_events = 3000 if split == "train" else 1000
    assert features.shape == (expected_events, 8)
    assert features.dtype == np.float64
    assert np.isfinite(features).all()
    assert metadata["process"] == process
    assert metadata["sqrt_s"] == sqrt_s
    assert metadata["n_events"] == expected_events
    assert metadata["feature_names"] == list(FEATURE_NAMES)

    for start in (0, 4):
        energy = features[:, start]
        momentum = np.linalg.norm(features[:, start + 1:start + 4], axis=1)
        assert (energy > 0).all()
        assert (energy >= momentum * (1 - 1e-9)).all()


@pytest.mark.parametrize(
    "process, expected_mass, tolerance", [("z", Z_MASS, 1.5), ("higgs", HIGGS_MASS, 0.5)]
)
@pytest.mark.parametrize("sqrt_s, split", [(13000, "train"), (13000, "test"), (100000, "test")])
def test_bundled_mass_median(process, expected_mass, tolerance, sqrt_s, split):
    features, _ = load_bundled(process, sqrt_s, split)
    median = np.median(invariant_mass(features))
    assert abs(median - expected_mass) < tolerance, f"median m_mumu = {median:.2f} GeV"


def test_bundled_seeds_differ():
    seeds = [load_bundled(*key)[1]["seed"] for key in BUNDLED_FILES]
    assert len(set(seeds)) == len(seeds)


def test_bundled_unknown_sample_rejected():
    with pytest.raises(ValueError, match="no bundled sample"):
        load_bundled("higgs", 100000, "train")
    with pytest.raises(ValueError, match="no bundled sample"):
        load_bundled("w", 13000, "train")


def test_bundled_classification_labels():
    features, y = load_bundled_classification(13000, "test")
    assert features.shape == (2000, 8)
    assert y.shape == (2000,)
    assert (y[:1000] == LABELS["higgs"]).all()
    assert (y[1000:] == LABELS["z"]).all()
    assert np.median(invariant_mass(features[y == 1])) > np.median(invariant_mass(features[y == 0]))


def test_labels_values():
    assert LABELS == {"higgs": 1, "z": 0}
    assert labels("higgs", 3).tolist() == [1, 1, 1]
    assert labels("z", 2).tolist() == [0, 0]
    with pytest.raises(ValueError, match="invalid process"):
        labels("top", 2)


# Save and load

def test_save_load_round_trip(tmp_path, sample):
    features, metadata = sample
    path = tmp_path / "events.npz"
    save_sample(path, features, metadata)

    loaded_features, loaded_metadata = load_sample(path)
    assert loaded_features.tobytes() == features.tobytes()
    assert loaded_metadata == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["events.npz"]


def test_saved_archive_needs_no_pickle(tmp_path, sample):
    path = tmp_path / "events.npz"
    save_sample(path, *sample)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["features", "metadata"]
        assert json.loads(archive["metadata"].item())["process"] == "higgs"


def test_save_replaces_existing_file(tmp_path, sample):
    features, metadata = sample
    path = tmp_path / "events.npz"
    path.write_bytes(b"old contents")
    save_sample(path, features[:5], {**metadata, "n_events": 5})
    assert load_sample(path)[0].shape == (5, 8)


def test_save_rejects_bad_input(tmp_path, sample):
    features, metadata = sample
    with pytest.raises(ValueError, match="does not exist"):
        save_sample(tmp_path / "missing" / "events.npz", features, metadata)
    with pytest.raises(ValueError, match="JSON"):
        save_sample(tmp_path / "events.npz", features, {"bad": object()})
    with pytest.raises(ValueError, match="shape"):
        save_sample(tmp_path / "events.npz", features[:, :7], metadata)
    assert list(tmp_path.iterdir()) == []


def write_archive(path, features, metadata=None):
    """Write an archive directly, bypassing the checks in save_sample."""
    if metadata is None:
        metadata = {"n_events": len(features)}
    np.savez(path, features=features, metadata=np.array(json.dumps(metadata)))
    return path


def test_load_rejects_wrong_shape(tmp_path, sample):
    features, _ = sample
    for name, bad in [("columns", features[:, :6]), ("flat", features.ravel()), ("empty", features[:0])]:
        path = write_archive(tmp_path / f"{name}.npz", bad, {})
        with pytest.raises(ValueError, match=f"{name}.npz") as error:
            load_sample(path)
        assert "\n" not in str(error.value)


def test_load_rejects_nan(tmp_path, sample):
    features = sample[0].copy()
    features[7, 2] = np.nan
    path = write_archive(tmp_path / "nan.npz", features)
    with pytest.raises(ValueError, match=r"nan\.npz.*NaN or infinite.*row 7"):
        load_sample(path)


def test_load_rejects_missing_muon(tmp_path, sample):
    features = sample[0].copy()
    features[3, 4:] = 0.0
    path = write_archive(tmp_path / "zeros.npz", features)
    with pytest.raises(ValueError, match=r"zeros\.npz.*missing mu-.*row 3"):
        load_sample(path)

    features = sample[0].copy()
    features[4, 0] = -features[4, 0]
    path = write_archive(tmp_path / "negative.npz", features)
    with pytest.raises(ValueError, match=r"negative\.npz.*missing mu\+.*row 4"):
        load_sample(path)


def test_load_rejects_spacelike_muon(tmp_path, sample):
    features = sample[0].copy()
    features[2, 0] *= 0.5
    path = write_archive(tmp_path / "spacelike.npz", features)
    with pytest.raises(ValueError, match=r"spacelike\.npz.*E < \|p\|.*row 2"):
        load_sample(path)


def test_load_rejects_unreadable_file(tmp_path, sample):
    cases = {
        "absent.npz": None,
        "text.npz": b"not an archive",
        "empty.npz": b"",
    }
    for name, contents in cases.items():
        path = tmp_path / name
        if contents is not None:
            path.write_bytes(contents)
        with pytest.raises(ValueError, match=name) as error:
            load_sample(path)
        assert "\n" not in str(error.value)

    with pytest.raises(ValueError, match="cannot read"):
        load_sample(tmp_path)

    truncated = tmp_path / "truncated.npz"
    save_sample(truncated, *sample)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.npz"):
        load_sample(truncated)


def test_load_rejects_wrong_contents(tmp_path, sample):
    features, metadata = sample

    single = tmp_path / "single.npy"
    np.save(single, features)
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_sample(single)

    no_metadata = tmp_path / "no_metadata.npz"
    np.savez(no_metadata, features=features)
    with pytest.raises(ValueError, match="no metadata array"):
        load_sample(no_metadata)

    objects = tmp_path / "objects.npz"
    np.savez(objects, features=features.astype(object), metadata=np.array("{}"))
    with pytest.raises(ValueError, match="objects.npz"):
        load_sample(objects)

    complex_values = write_archive(tmp_path / "complex.npz", features.astype(np.complex128))
    with pytest.raises(ValueError, match="dtype complex128"):
        load_sample(complex_values)

    not_json = tmp_path / "not_json.npz"
    np.savez(not_json, features=features, metadata=np.array("{process: higgs"))
    with pytest.raises(ValueError, match="not valid JSON"):
        load_sample(not_json)

    wrong_count = write_archive(tmp_path / "count.npz", features, {**metadata, "n_events": 99})
    with pytest.raises(ValueError, match="n_events = 99"):
        load_sample(wrong_count)


# Physics helpers

def test_minkowski_dot_metric():
    p = np.array([5.0, 1.0, 2.0, 3.0])
    q = np.array([7.0, -1.0, 4.0, 0.5])
    assert minkowski_dot(p, q) == 5 * 7 - (1 * -1) - 2 * 4 - 3 * 0.5
    assert minkowski_dot(p, p) == 25 - 1 - 4 - 9


def test_minkowski_dot_broadcasts():
    p = np.arange(24.0).reshape(2, 3, 4)
    q = np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(minkowski_dot(p, q), p[..., 0])
    with pytest.raises(ValueError, match="length 4"):
        minkowski_dot(np.zeros(3), np.zeros(3))


def test_invariant_mass_is_boost_invariant():
    features = muon_pair(HIGGS_MASS, 50, seed=3)
    np.testing.assert_allclose(invariant_mass(features), HIGGS_MASS, rtol=1e-12)


def test_invariant_mass_matches_dot_products():
    features, _ = load_bundled("z", 13000, "test")
    p1, p2 = features[:, :4], features[:, 4:]
    mass_squared = minkowski_dot(p1, p1) + minkowski_dot(p2, p2) + 2 * minkowski_dot(p1, p2)
    np.testing.assert_allclose(invariant_mass(features) ** 2, mass_squared, rtol=1e-9)


def test_invariant_mass_checks_width():
    assert invariant_mass(np.zeros((3, 8))).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="length 8"):
        invariant_mass(np.zeros((3, 7)))


# Generator

def test_generate_events_reproducible():
    pytest.importorskip("pythia8mc")

    progress_calls = []
    first, metadata = generate_events("z", 13000, 30, seed=42, progress=progress_calls.append)
    second, _ = generate_events("z", 13000, 30, seed=42)
    other_seed, _ = generate_events("z", 13000, 30, seed=43)

    assert first.shape == (30, 8)
    assert first.dtype == np.float64
    assert first.tobytes() == second.tobytes()
    assert not np.array_equal(first, other_seed)
    assert progress_calls[-1] == 30
    assert "Random:seed = 42" in metadata["settings"]
    assert metadata["n_events"] == 30
    assert metadata["seed"] == 42
    assert metadata["pythia8mc_version"]
    assert (first[:, 0] > 0).all()
    assert (first[:, 4] > 0).all()


def test_generate_events_rejects_bad_arguments():
    for arguments, message in [
        (("top", 13000, 10, 1), "invalid process"),
        (("z", -5, 10, 1), "invalid sqrt_s"),
        (("z", float("nan"), 10, 1), "invalid sqrt_s"),
        (("z", 13000, 0, 1), "invalid n_events"),
        (("z", 13000, 10, 0), "invalid seed"),
        (("z", 13000, 10, 900_000_001), "invalid seed"),
    ]:
        with pytest.raises(ValueError, match=message):
            generate_events(*arguments)
