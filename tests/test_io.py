"""Model files: round trip, atomic writes, and rejection of bad files and NaN weights."""

import numpy as np
import pytest

from calu_np.io import atomic_open, load_model, save_model
from calu_np.network import Network, initialise
from calu_np.spec import parse_q


def make_network(seed=0):
    network = Network("3 4:CALUm 2:CALUa", [parse_q("0..2"), parse_q("-1..1")])
    initialise(network, np.random.default_rng(seed))
    return network


def test_round_trip_same_outputs(tmp_path):
    network = make_network()
    network.layers[1].frozen[0, 1] = True
    network.layers[1].fixed_M[0, 1] = -1.0
    path = tmp_path / "model.npz"
    save_model(path, network, {"note": "test"})

    loaded, metadata = load_model(path)
    assert metadata["note"] == "test"
    assert metadata["layers"] == "3 4:CALUm 2:CALUa"
    x = np.random.default_rng(1).normal(size=(6, 3))
    np.testing.assert_array_equal(loaded.forward(x)[0], network.forward(x)[0])
    np.testing.assert_array_equal(loaded.layers[1].q, network.layers[1].q)


def test_nan_weights_not_saved(tmp_path):
    network = make_network()
    network.params["0.logits"][0, 0, 0] = np.nan
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match="NaN or inf"):
        save_model(path, network)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    save_model(path, make_network(0))
    save_model(path, make_network(1))
    loaded, _ = load_model(path)
    np.testing.assert_array_equal(loaded.params["0.logits"], make_network(1).params["0.logits"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"not a zip file", "not an .npz archive"),
        (b"", "not an .npz archive"),
    ],
)
def test_unreadable_file_rejected(tmp_path, content, fragment):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=fragment):
        load_model(path)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_model(tmp_path / "absent.npz")


def test_npz_without_metadata_rejected(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a calu-np model"):
        load_model(path)


def test_wrong_shape_rejected(tmp_path):
    path = tmp_path / "model.npz"
    save_model(path, make_network())
    with np.load(path) as data:
        arrays = dict(data)
    arrays["0.logits"] = arrays["0.logits"][:, :1]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="malformed"):
        load_model(path)


def test_saved_file_follows_umask(tmp_path):
    import os

    path = tmp_path / "model.npz"
    previous = os.umask(0o022)
    try:
        save_model(path, make_network())
    finally:
        os.umask(previous)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_atomic_open_failure_keeps_old_file(tmp_path):
    path = tmp_path / "table.md"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as stream:
            stream.write("half of a new table")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]


def test_atomic_open_replaces_file(tmp_path):
    path = tmp_path / "table.md"
    path.write_text("old\n")
    with atomic_open(path, "w") as stream:
        stream.write("new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]


def test_atomic_open_missing_folder_rejected(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        with atomic_open(tmp_path / "missing" / "table.md", "w"):
            pass
