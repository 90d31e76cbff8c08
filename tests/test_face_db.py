"""FaceDatabase: enrol / verify / identify against brute force, open-set rejection, top-k,
save/load round trip, atomic writes, clear errors for corrupt or mismatched files."""
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.apps.face import FaceDatabase, FaceDatabaseError, squared_distances
from minicnn.apps.face.images import prepare_images


class ToyEncoder:
    """A fixed random projection of the pixels, normalised: close images, close codes."""

    def __init__(self, d=16, size=(8, 8), seed=0):
        self.P = np.random.default_rng(seed).normal(size=(size[0] * size[1], d))
        self.size = size

    def __call__(self, images):
        x = prepare_images(images, self.size).reshape(-1, self.size[0] * self.size[1])
        f = (x - 0.5) @ self.P
        return f / np.linalg.norm(f, axis=1, keepdims=True)


def faces(n_people=5, n_photos=4, noise=0.03, seed=0):
    """Each "person" is a random 8×8 image; photos are it plus a little noise."""
    rng = np.random.default_rng(seed)
    proto = rng.random((n_people, 8, 8))
    photos = proto[:, None] + noise * rng.normal(size=(n_people, n_photos, 8, 8))
    return np.clip(photos, 0, 1).astype(np.float32)


@pytest.fixture
def db():
    enc = ToyEncoder()
    db = FaceDatabase(enc, threshold=0.3)
    X = faces()
    for i in range(3):
        assert db.enrol(f"p{i}", X[i, 0]) == 1        # one photo is enough
    return db, X


def test_verify_and_identify_from_one_photo(db):
    db, X = db
    assert db.names == ["p0", "p1", "p2"] and len(db) == 3 and "p1" in db
    for i in range(3):
        for j in range(1, 4):
            dist, same = db.verify(X[i, j], f"p{i}")
            assert same and dist < 0.3
            assert not db.verify(X[i, j], f"p{(i + 1) % 3}").is_same
            r = db.identify(X[i, j])
            assert r.name == f"p{i}" and r.nearest == f"p{i}"
            assert r.distance == pytest.approx(dist, abs=1e-6)   # float32 rounding


def test_open_set_rejection(db):
    db, X = db
    for i in (3, 4):                                   # never enrolled
        for j in range(4):
            r = db.identify(X[i, j], k=2)
            assert r.name is None and r.distance > db.threshold
            assert r.nearest in db.names and len(r.top) == 2


def test_identify_matches_brute_force_and_top_k():
    rng = np.random.default_rng(1)
    E = rng.normal(size=(40, 6)).astype(np.float32)
    names = [f"n{i % 13}" for i in range(40)]          # up to 4 photos per person
    db = FaceDatabase(None, threshold=5.0)
    db.add_encodings(names, E)
    Q = rng.normal(size=(7, 6)).astype(np.float32)
    results = db.identify_encodings(Q, k=4)
    for q, r in zip(Q, results):
        per_person = {}
        for name, e in zip(names, E):
            per_person[name] = min(per_person.get(name, np.inf), float(((q - e) ** 2).sum()))
        ranked = sorted(per_person.items(), key=lambda t: t[1])[:4]
        assert [n for n, _ in r.top] == [n for n, _ in ranked]
        np.testing.assert_allclose([d for _, d in r.top], [d for _, d in ranked], rtol=1e-5)
        assert r.name == (ranked[0][0] if ranked[0][1] <= 5.0 else None)
    # one query through identify_encodings is the same as each alone
    assert db.identify_encodings(Q[2:3], k=4)[0] == results[2]


@given(m=st.integers(1, 5), n=st.integers(1, 30), d=st.integers(1, 9), seed=st.integers(0, 99))
def test_squared_distances(m, n, d, seed):
    rng = np.random.default_rng(seed)
    Q, G = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    ref = ((Q[:, None] - G[None]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(Q, G), ref, rtol=1e-10, atol=1e-10)
    assert (squared_distances(G, G) >= 0).all()


def test_several_photos_per_person_and_remove(db):
    db, X = db
    assert db.enrol("p0", X[0, 1:3]) == 3               # two more photos of p0
    assert len(db.encodings) == 5 and db.row_names.count("p0") == 3
    db.remove("p1")
    assert db.names == ["p0", "p2"] and len(db.encodings) == 4
    assert db.identify(X[2, 3]).name == "p2"
    with pytest.raises(KeyError, match="'p1' is not enrolled"):
        db.verify(X[1, 0], "p1")


def test_enrolment_grows_linearly():
    db = FaceDatabase(None, threshold=1.0)
    for i in range(300):                               # capacity doubles: few copies
        db.add_encodings(f"p{i}", np.full(4, i, np.float32))
    assert len(db) == 300 and db.encodings.shape == (300, 4)
    assert db.identify_encodings(np.full(4, 123.2))[0].name == "p123"


def test_round_trip(tmp_path, db):
    db, X = db
    db.enrol("Ünïcode name", X[4, 0])
    db.meta["model"] = "encoder.npz"
    path = db.save(tmp_path / "faces.npz")
    db2 = FaceDatabase.load(path, encoder_fn=db.encoder_fn, expected_dim=16)
    assert db2.names == db.names and db2.threshold == db.threshold and db2.dim == 16
    assert db2.meta == {"model": "encoder.npz"}
    np.testing.assert_array_equal(db2.encodings, db.encodings)
    for i in range(5):
        assert db2.identify(X[i, 2]) == db.identify(X[i, 2])
    # an empty database round-trips too
    empty = FaceDatabase(None, threshold=0.5).save(tmp_path / "empty.npz")
    assert len(FaceDatabase.load(empty)) == 0
    assert FaceDatabase.load(path, threshold=0.1).threshold == 0.1


def test_save_is_atomic(tmp_path, db, monkeypatch):
    db, X = db
    path = db.save(tmp_path / "faces.npz")
    before = path.read_bytes()
    db.enrol("p3", X[3, 0])

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        db.save(path)
    assert path.read_bytes() == before                 # the old file is intact
    assert os.listdir(tmp_path) == ["faces.npz"]       # and no temp file is left behind
    monkeypatch.undo()
    db.save(path)
    assert FaceDatabase.load(path).names == ["p0", "p1", "p2", "p3"]


def test_corrupt_and_mismatched_files(tmp_path, db):
    db, _ = db
    good = db.save(tmp_path / "good.npz")
    data = good.read_bytes()

    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FaceDatabaseError, match="corrupt or truncated"):
        FaceDatabase.load(tmp_path / "trunc.npz")

    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(FaceDatabaseError, match="corrupt or truncated"):
        FaceDatabase.load(tmp_path / "junk.npz")

    np.savez(tmp_path / "other.npz", W=np.zeros(3))
    with pytest.raises(FaceDatabaseError, match="not a face database"):
        FaceDatabase.load(tmp_path / "other.npz")

    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(tmp_path / "v99.npz", **{**arrays, "version": np.array(99)})
    with pytest.raises(FaceDatabaseError, match="version 99, this minicnn reads version 1"):
        FaceDatabase.load(tmp_path / "v99.npz")

    np.savez(tmp_path / "dim.npz", **{**arrays, "dim": np.array(8)})
    with pytest.raises(FaceDatabaseError, match=r"shape \(3, 16\), but the header says size 8"):
        FaceDatabase.load(tmp_path / "dim.npz")

    np.savez(tmp_path / "owners.npz", **{**arrays, "person": np.array([0, 1, 7])})
    with pytest.raises(FaceDatabaseError, match="rows and names do not match"):
        FaceDatabase.load(tmp_path / "owners.npz")

    with pytest.raises(FaceDatabaseError, match="size 16, but the encoder makes encodings of "
                                                "size 128"):
        FaceDatabase.load(good, expected_dim=128)

    with pytest.raises(FileNotFoundError, match="does not exist"):
        FaceDatabase.load(tmp_path / "nope.npz")

    # a flipped byte inside the compressed member is caught by the zip CRC
    with zipfile.ZipFile(good) as zf:
        assert zf.testzip() is None
    broken = bytearray(data)
    start = data.index(b"encodings.npy") + 200
    broken[start] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(broken))
    with pytest.raises(FaceDatabaseError):
        FaceDatabase.load(tmp_path / "flip.npz")


def test_errors(db):
    db, X = db
    with pytest.raises(ValueError, match="verify takes one image, got 2"):
        db.verify(X[0, :2], "p0")
    with pytest.raises(ValueError, match="size 5, but this database stores encodings of size 16"):
        db.add_encodings("x", np.zeros(5))
    with pytest.raises(ValueError, match="non-empty string"):
        db.add_encodings([""], np.zeros((1, 16)))
    with pytest.raises(RuntimeError, match="database is empty"):
        FaceDatabase(None, 1.0).identify_encodings(np.zeros(3))
    with pytest.raises(RuntimeError, match="no encoder_fn"):
        FaceDatabase(None, 1.0).enrol("a", X[0, 0])
    with pytest.raises(ValueError, match=r"query encodings must be \(q, 16\)"):
        db.identify_encodings(np.zeros((2, 3)))


def test_custom_distance_fn(tmp_path):
    """A distance other than ‖q − g‖² (here L1) is used by verify and identify alike."""
    def l1(Q, G):
        return np.abs(np.asarray(Q)[:, None, :] - np.asarray(G)[None, :, :]).sum(-1)
    db = FaceDatabase(None, threshold=1.5, distance_fn=l1)
    db.add_encodings(["a", "b"], np.array([[0., 0.], [2., 2.]]))
    # L1 distances: to a 1.0 + 0.2, to b 1.0 + 1.8
    q = np.array([1.0, 0.2])
    r = db.identify_encodings(q, k=2)[0]
    assert r.top == [("a", pytest.approx(1.2)), ("b", pytest.approx(2.8))] and r.name == "a"
    assert db.verify_encoding(q, "b") == (pytest.approx(2.8), False)
    path = db.save(tmp_path / "l1.npz")
    assert FaceDatabase.load(path, distance_fn=l1).identify_encodings(q)[0].distance == \
        pytest.approx(1.2)
