"""Face encoder and training: batches, the encoder's contract, every objective runs, the
CLI end to end on a tiny model, and a real one-shot run on Olivetti that must clear a bar."""
import numpy as np
import pytest

import minicnn
from minicnn import functional as F
from minicnn.apps.face import FaceDatabase
from minicnn.apps.face.encoder import FaceEncoder
from minicnn.apps.face.protocol import evaluate_unseen, load_faces, split_people
from minicnn.apps.face.train import (MarginClassifier, SiameseHead, TrainConfig, augment,
                                     pk_batch, random_zoom, same_and_different_pairs,
                                     train_encoder)
from minicnn.autograd import Tensor


def test_pk_batch():
    y = np.repeat(np.arange(8), 5)
    y = np.r_[y, 99]                                       # a person with one photo: never
    idx = pk_batch(y, P=4, K=3, rng=np.random.default_rng(0))
    people, counts = np.unique(y[idx], return_counts=True)
    assert len(idx) == 12 and len(people) == 4 and (counts == 3).all() and 99 not in people
    for p in people:                                       # K distinct photos of each
        assert len(set(idx[y[idx] == p])) == 3
    with pytest.raises(ValueError, match="at least 2 people"):
        pk_batch(np.array([0, 0, 1]), 2, 2, np.random.default_rng(0))


def test_same_and_different_pairs_are_balanced():
    labels = np.repeat(np.arange(5), 4)
    i, j, same = same_and_different_pairs(labels, np.random.default_rng(0))
    assert same.sum() == 5 * 6 and (1 - same).sum() == 5 * 6
    assert ((labels[i] == labels[j]) == (same == 1)).all() and (i < j).all()


def test_augment_keeps_shape_and_dtype():
    X = np.random.default_rng(0).random((6, 16, 16, 1)).astype(np.float32)
    A = augment(X, np.random.default_rng(1), shift=2)
    assert A.shape == X.shape and A.dtype == np.float32 and not np.array_equal(A, X)


def test_encoder_contract(tmp_path):
    enc = FaceEncoder((16, 16, 1), width=4)
    X = np.random.default_rng(0).random((5, 16, 16, 1)).astype(np.float32)
    f = enc(Tensor(X))
    assert f.shape == (5, 128) and f.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f.numpy(), axis=1), 1, rtol=1e-5)
    F.triplet_loss(f[:1], f[1:2], f[2:3], 2.0).backward()   # the gradient reaches the stem
    assert enc.stem[0].W.grad is not None and enc.stem[0].W.grad.dtype == np.float32
    E = enc.encode(X)                                       # eval mode, NumPy out
    assert isinstance(E, np.ndarray) and E.shape == (5, 128) and enc.training
    # images of another size and colour are converted by encode()
    rgb = (np.random.default_rng(1).random((2, 40, 30, 3)) * 255).astype(np.uint8)
    assert enc.encode(rgb).shape == (2, 128)
    enc.save(tmp_path / "enc.npz", threshold=0.8)
    enc2, extra = FaceEncoder.load(tmp_path / "enc.npz")
    assert extra["threshold"] == 0.8 and enc2.input_shape == (16, 16, 1)
    np.testing.assert_allclose(enc2.encode(X), E, atol=1e-6)
    minicnn.save({"W": np.zeros(3)}, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not a FaceEncoder file"):
        FaceEncoder.load(tmp_path / "other.npz")


def test_siamese_head_distance_is_minus_the_logit():
    head = SiameseHead(8, "chi2")
    head.w.data[:] = np.random.default_rng(0).normal(size=8)
    Q = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    G = np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32)
    D = head.distance(Q, G)
    for a in range(3):
        z = head(Tensor(np.repeat(Q[a:a + 1], 4, 0)), Tensor(G)).numpy()
        np.testing.assert_allclose(D[a], -z, rtol=1e-5)


@pytest.mark.parametrize("kw", [dict(method="triplet", mining="semi_hard"),
                                dict(method="triplet", mining="batch_hard"),
                                dict(method="triplet", mining="batch_all"),
                                dict(method="triplet", mining="random"),
                                dict(method="contrastive"),
                                dict(method="binary", head="abs"),
                                dict(method="binary", head="chi2"),
                                dict(method="classifier", classifier="cosface"),
                                dict(method="classifier", classifier="arcface"),
                                dict(method="classifier", classifier="softmax"),
                                dict(method="triplet", classifier="cosface", cls_weight=0.5)])
def test_every_objective_trains(kw):
    rng = np.random.default_rng(0)
    proto = rng.random((4, 16, 16, 1))
    X = np.clip(proto.repeat(4, 0) + 0.05 * rng.normal(size=(16, 16, 16, 1)), 0, 1)
    y = np.repeat(np.arange(4), 4)
    cfg = TrainConfig(**kw, steps=3, P=3, K=2, input_shape=(16, 16, 1), width=4, warmup=1)
    enc, head, hist = train_encoder(X.astype(np.float32), y, cfg)
    assert hist["steps"] == 3 and np.isfinite(hist["loss"]).all()
    assert (head is not None) == (kw["method"] == "binary")
    assert all(p.dtype == np.float32 for p in enc.parameters())
    with pytest.raises(ValueError, match="method must be one of"):
        TrainConfig(method="arcface")
    with pytest.raises(ValueError, match="classifier must be None or one of"):
        TrainConfig(method="classifier", classifier="sphereface")


def test_classifier_labels_and_defaults():
    cfg = TrainConfig(method="classifier")
    assert cfg.classifier == "cosface" and cfg.label == "cosface"
    assert TrainConfig(classifier="arcface").label == "triplet/batch_hard + arcface"
    assert TrainConfig(method="classifier", pool="flatten").label == "cosface, flatten"
    head = MarginClassifier(8, 5, "arcface", s=10.0, m=0.3)
    assert head.W.shape == (8, 5) and len(head.parameters()) == 1
    f = Tensor(np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32))
    J = head(f, np.array([0, 1, 2, 4]))
    assert J.shape == () and np.isfinite(J.item())
    with pytest.raises(ValueError, match="at least 2 identities"):
        MarginClassifier(8, 1)


def test_ema_ends_with_the_average_of_the_weights():
    rng = np.random.default_rng(0)
    X = rng.random((12, 16, 16, 1)).astype(np.float32)
    y = np.repeat(np.arange(3), 4)
    seen = []

    def keep(step, history):            # the weights after each step
        seen.append([p.data.copy() for p in enc0.parameters()])
    base = dict(method="classifier", steps=4, P=3, K=2, input_shape=(16, 16, 1), width=4,
                warmup=1, augment=False)
    minicnn.manual_seed(0)
    enc0 = FaceEncoder((16, 16, 1), width=4)
    w0 = [p.data.copy() for p in enc0.parameters()]
    enc, _, _ = train_encoder(X, y, TrainConfig(**base, ema=0.5), encoder=enc0, callback=keep)
    for i, p in enumerate(enc.parameters()):
        w_bar = w0[i]
        for weights in seen:
            w_bar = 0.5 * w_bar + 0.5 * weights[i]
        np.testing.assert_allclose(p.data, w_bar, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"ema must be in \[0, 1\)"):
        TrainConfig(ema=1.0)


def test_random_zoom():
    rng = np.random.default_rng(0)
    X = rng.random((3, 12, 10, 1)).astype(np.float32)
    np.testing.assert_allclose(random_zoom(X, rng, 0.0), X, atol=1e-6)   # scale 1: unchanged
    Z = random_zoom(X, rng, 0.3)
    assert Z.shape == X.shape and Z.dtype == X.dtype and not np.allclose(Z, X)
    assert Z.min() >= X.min() - 1e-6 and Z.max() <= X.max() + 1e-6    # bilinear: no overshoot
    # a picture constant along each row stays constant along each row when zoomed
    rows = np.repeat(np.linspace(0, 1, 12)[None, :, None, None], 10, axis=2).astype(np.float32)
    R = random_zoom(rows, rng, 0.3)
    np.testing.assert_allclose(R, np.broadcast_to(R[:, :, :1], R.shape), atol=1e-6)


def test_encode_flip_averages_a_face_and_its_mirror_image():
    enc = FaceEncoder((16, 16, 1), width=4)
    X = np.random.default_rng(0).random((3, 16, 16, 1)).astype(np.float32)
    E, M = enc.encode(X), enc.encode(X[:, :, ::-1])
    ref = (E + M) / np.linalg.norm(E + M, axis=1, keepdims=True)
    np.testing.assert_allclose(enc.encode(X, flip=True), ref, atol=1e-5)
    # a symmetric face gets the same encoding either way
    sym = np.concatenate([X[:, :, :8], X[:, :, 7::-1]], axis=2)
    np.testing.assert_allclose(enc.encode(sym, flip=True), enc.encode(sym), atol=1e-5)
    assert FaceEncoder((16, 16, 1), width=4, flip_test=True).config["flip_test"] is True


def test_evaluate_unseen_on_perfect_encodings():
    """Encodings that are exactly one point per person: everything must be perfect."""
    y = np.repeat(np.arange(10), 10)
    centres = np.eye(10, 16)
    E = centres[y] + 1e-3 * np.random.default_rng(0).normal(size=(100, 16))
    r = evaluate_unseen(E, y, tau=0.5)
    for k in ("one_shot_rank1", "one_shot_at_tau", "open_set_rejection",
              "open_set_recognised", "verification_accuracy", "auc"):
        assert r[k] == 1.0, k
    r = evaluate_unseen(E, y, tau=1e-9)                  # nothing is within τ
    assert r["one_shot_rank1"] == 1.0 and r["one_shot_at_tau"] == 0.0
    assert r["open_set_rejection"] == 1.0 and r["open_set_recognised"] == 0.0


# ----------------------------------------------------------------- real data
TEST_STEPS = 150


@pytest.fixture
def one_thread(monkeypatch):
    """One BLAS thread and one engine thread: the suite runs two test workers on two
    cores, and BLAS threads that spin while they wait for a core slow a training run
    several-fold on a machine that is already busy."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("MINICNN_NUM_THREADS", "1")
    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.mark.slow
def test_one_shot_on_unseen_olivetti_people(shared_data, one_thread):
    """About half a minute of training on 30 people, then one-shot identification of the
    10 others from one enrolment photo each. Chance is 10%; the raw pixels (no learning)
    get 69% one-shot and AUC 0.865 on this split, so the bars need a working encoder."""
    X, y = load_faces(shared_data / "olivetti_faces.npz")
    train_people, test_people = split_people(y, 30, seed=0)
    fit = np.isin(y, train_people)
    cfg = TrainConfig(method="triplet", mining="semi_hard", steps=TEST_STEPS, seed=0)
    enc, _, hist = train_encoder(X[fit], y[fit], cfg)
    test = np.isin(y, test_people)
    E = enc.encode(X[test])
    r = evaluate_unseen(E, y[test], tau=1.0, n_open_draws=5)
    print(f"\none-shot {r['one_shot_rank1']:.3f}, AUC {r['auc']:.4f} after "
          f"{hist['steps']} steps in {hist['seconds']:.0f} s")
    assert hist["loss"][-1] < hist["loss"][0]
    assert r["one_shot_rank1"] >= 0.75
    assert r["auc"] >= 0.92


# ---------------------------------------------------------------------- CLI
def _write_people(root, X, y, people, photos):
    from PIL import Image
    for p in people:
        d = root / f"person{p:02d}"
        d.mkdir(parents=True)
        for k, i in enumerate(np.nonzero(y == p)[0][:photos]):
            Image.fromarray(np.round(X[i, :, :, 0] * 255).astype(np.uint8)).save(d / f"{k}.png")


def test_cli_smoke(tmp_path, shared_data, capsys):
    from minicnn.cli import main
    X, y = load_faces(shared_data / "olivetti_faces.npz")
    _write_people(tmp_path / "train", X, y, range(6), 4)
    assert main(["faces", "train", "--data", str(tmp_path / "train"), "--out",
                 str(tmp_path / "model"), "--steps", "2", "--input-size", "16", "--width", "4",
                 "--val-people", "2", "--P", "3", "--K", "2", "--quiet"]) == 0
    for f in ("encoder.npz", "report.json", "roc.png", "distances.png", "encodings.png"):
        assert (tmp_path / "model" / f).exists(), f
    assert main(["faces", "train", "--data", str(tmp_path / "train"), "--out",
                 str(tmp_path / "cosface"), "--steps", "2", "--input-size", "16", "--width", "4",
                 "--val-people", "2", "--P", "3", "--K", "2", "--quiet",
                 "--method", "classifier", "--classifier", "arcface", "--cls-margin", "0.3",
                 "--pool", "flatten"]) == 0
    import json
    config = json.loads((tmp_path / "cosface" / "report.json").read_text())["config"]
    assert (config["method"], config["classifier"], config["cls_margin"], config["pool"]) == \
        ("classifier", "arcface", 0.3, "flatten")
    _write_people(tmp_path / "new", X, y, [30, 31, 32], 3)
    db = tmp_path / "faces.npz"
    for p in (30, 31):
        assert main(["faces", "enrol", f"p{p}", str(tmp_path / "new" / f"person{p}" / "0.png"),
                     "--db", str(db), "--model", str(tmp_path / "model")]) == 0
    assert "2 people" in capsys.readouterr().out
    probe = str(tmp_path / "new" / "person30" / "1.png")
    assert main(["faces", "verify", probe, "p30", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "p30" in out and "distance" in out and "τ" in out
    assert main(["faces", "identify", probe, "--db", str(db), "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[1].strip().startswith("1.") and out[2].strip().startswith("2.")
    # a huge τ recognises someone; a tiny τ turns the probe away
    main(["faces", "identify", probe, "--db", str(db), "--threshold", "100"])
    assert capsys.readouterr().out.splitlines()[0].split()[0] in ("p30", "p31")
    main(["faces", "identify", probe, "--db", str(db), "--threshold", "0"])
    assert capsys.readouterr().out.startswith("not recognised")
    # the database is the library's file format
    assert FaceDatabase.load(db).names == ["p30", "p31"]
    # clear errors, exit code 2
    assert main(["faces", "verify", probe, "nobody", "--db", str(db)]) == 2
    assert "'nobody' is not enrolled" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert main(["faces", "identify", probe, "--db", str(tmp_path / "bad.npz")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert main(["faces", "identify", probe, "--db", str(tmp_path / "none.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_protocol_script_pools_seeds_and_splits(tmp_path, shared_data):
    """scripts/face_protocol.py end to end on a tiny encoder: one method, two training
    seeds, one split, pooled into one row; --set reaches TrainConfig."""
    import importlib.util
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / "face_protocol.py"
    spec = importlib.util.spec_from_file_location("face_protocol", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "out"
    assert script.main(["--data", str(shared_data / "olivetti_faces.npz"), "--methods",
                        "cosface", "--splits", "0", "--seeds", "0", "1", "--steps", "2",
                        "--input-size", "16", "--width", "4", "--jobs", "1",
                        "--set", "P=5", "erase=0.5", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    runs = results["per_split"]["cosface, flatten"]
    assert [(r["split_seed"], r["train_seed"]) for r in runs] == [(0, 0), (0, 1)]
    assert runs[0]["one_shot_rank1"] != runs[1]["one_shot_rank1"] or \
        runs[0]["auc"] != runs[1]["auc"]                        # two different encoders
    assert "training seeds [0, 1]" in (out / "report.md").read_text()
    assert script.overrides(["erase=0.5", "pool=flatten", "classifier=None"]) == \
        {"erase": 0.5, "pool": "flatten", "classifier": None}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        script.overrides(["nonsense=1"])
