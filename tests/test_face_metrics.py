"""ROC, AUC, EER and threshold choice against scikit-learn and hand-made cases; PNG plots."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.apps.face import metrics as M
from minicnn.apps.face import plots

sk = pytest.importorskip("sklearn.metrics")


def random_pairs(seed, n=200, sep=1.0, ties=False):
    rng = np.random.default_rng(seed)
    same = rng.integers(0, 2, n)
    same[:2] = [0, 1]
    d = rng.normal(np.where(same == 1, 1.0, 1.0 + sep), 0.5)
    if ties:
        d = np.round(d, 1)       # many equal distances: ROC points must merge them
    return d, same


@given(seed=st.integers(0, 10_000), sep=st.floats(-1, 3), ties=st.booleans())
def test_roc_and_auc_match_scikit_learn(seed, sep, ties):
    d, same = random_pairs(seed, sep=sep, ties=ties)
    fpr, tpr, thr = M.roc_curve(d, same)
    # scikit-learn scores "same" by a larger score: the score is −distance
    sk_fpr, sk_tpr, sk_thr = sk.roc_curve(same, -d, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], -sk_thr[1:])
    assert thr[0] == -np.inf and sk_thr[0] == np.inf
    assert M.roc_auc(d, same) == pytest.approx(sk.roc_auc_score(same, -d), abs=1e-12)


def test_auc_hand_computed():
    # same pairs at 0.1, 0.4; different at 0.3, 0.5: of the 4 (same, diff) comparisons
    # 3 have the same pair closer, so AUC = 3/4
    assert M.roc_auc([0.1, 0.4, 0.3, 0.5], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert M.roc_auc([0.1, 0.2, 0.3, 0.5], [1, 1, 0, 0]) == 1.0       # separable
    assert M.roc_auc([0.3, 0.3], [1, 0]) == 0.5                        # a tie counts ½


def test_equal_error_rate():
    # separable: EER 0, τ between the groups is anywhere in [0.2, 0.3]; ours is a ROC point
    eer, tau = M.equal_error_rate([0.1, 0.2, 0.3, 0.5], [1, 1, 0, 0])
    assert eer == 0.0 and 0.2 <= tau < 0.3
    # symmetric overlap: one same pair at 0.35 beyond one different pair at 0.25 (of 4 each)
    d = [0.1, 0.2, 0.3, 0.35, 0.25, 0.4, 0.5, 0.6]
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    # at τ = 0.3: accepted 3 of 4 same pairs (FNR ¼) and 1 of 4 different (FPR ¼)
    eer, tau = M.equal_error_rate(d, y)
    assert eer == pytest.approx(0.25) and tau == pytest.approx(0.3)
    # no point is exactly equal: the crossing is interpolated between two ROC points
    eer, tau = M.equal_error_rate([0.1, 0.3, 0.2, 0.4], [1, 1, 0, 0])
    # ROC: τ=0.1 (FPR 0, FNR ½), τ=0.2 (FPR ½, FNR ½) → equal at 0.2 already
    assert eer == pytest.approx(0.5) and tau == pytest.approx(0.2)
    eer, tau = M.equal_error_rate([0.1, 0.2, 0.15, 0.3, 0.4], [1, 1, 0, 0, 0])
    # τ=0.1: FPR 0, FNR ½ (gap ½); τ=0.15: FPR ⅓, FNR ½ (gap ⅙); τ=0.2: FPR ⅓, FNR 0
    # (gap −⅓): the crossing is ⅓ of the way from 0.15 to 0.2, where FPR stays ⅓
    assert eer == pytest.approx(1 / 3) and tau == pytest.approx(0.15 + 0.05 / 3)


@given(seed=st.integers(0, 10_000), sep=st.floats(0, 3))
def test_equal_error_rate_against_roc(seed, sep):
    d, same = random_pairs(seed, sep=sep)
    eer, tau = M.equal_error_rate(d, same)
    fpr, tpr, _ = sk.roc_curve(same, -d, drop_intermediate=False)
    fnr = 1 - tpr
    # the crossing of FPR and FNR lies between the ROC points where FNR − FPR changes sign
    i = np.nonzero(fnr - fpr <= 0)[0][0]
    assert min(fpr[i - 1], fnr[i]) - 1e-12 <= eer <= max(fpr[i], fnr[i - 1]) + 1e-12
    assert d.min() <= tau <= d.max()


@given(seed=st.integers(0, 10_000), sep=st.floats(0, 3), balanced=st.booleans())
def test_best_threshold_is_best(seed, sep, balanced):
    d, same = random_pairs(seed, sep=sep)
    same[:30] = 0                                   # unbalanced, so the two criteria differ
    tau, acc = M.best_threshold(d, same, balanced)
    assert M.accuracy_at(d, same, tau, balanced) == pytest.approx(acc)
    # brute force over every possible cut
    y = same.astype(bool)

    def score(c):
        right = (d <= c) == y
        return (right[y].mean() + right[~y].mean()) / 2 if balanced else right.mean()
    cuts = np.r_[d.min() - 1, np.sort(d)]
    assert acc == pytest.approx(max(score(c) for c in cuts))


def test_verification_report_and_pair_distances():
    E = np.array([[0., 0.], [0., 0.1], [1., 0.], [1., 0.1]])
    d, same = M.pair_distances(E, [0, 0, 1, 1])
    np.testing.assert_allclose(d, [0.01, 1, 1.01, 1.01, 1, 0.01], atol=1e-12)
    np.testing.assert_array_equal(same, [1, 0, 0, 0, 0, 1])
    r = M.verification_report(d, same)
    assert r["auc"] == 1.0 and r["accuracy"] == 1.0 and 0.01 < r["tau"] < 1
    # τ below every distance: all 4 different pairs right, both same pairs wrong
    assert M.verification_report(d, same, 0.005, balanced=False)["accuracy"] == pytest.approx(4 / 6)
    assert M.verification_report(d, same, 0.005)["accuracy"] == pytest.approx(0.5)


def test_bad_input():
    with pytest.raises(ValueError, match="both same-person and different-person"):
        M.roc_curve([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        M.roc_curve([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="0 .* or 1"):
        M.roc_curve([0.1, 0.2], [1, 2])


def test_plots_write_pngs(tmp_path):
    d, same = random_pairs(0)
    fpr, tpr, _ = M.roc_curve(d, same)
    eer, _ = M.equal_error_rate(d, same)
    E = np.random.default_rng(0).normal(size=(30, 8))
    paths = [
        plots.plot_roc({"triplet": (fpr, tpr, M.roc_auc(d, same), eer), "x": (fpr, tpr)},
                       tmp_path / "roc.png"),
        plots.plot_distance_histograms(d[same == 1], d[same == 0], tmp_path / "h.png", tau=1.3),
        plots.plot_embedding_2d(E, np.repeat(np.arange(6), 5), tmp_path / "sub" / "e.png"),
        plots.plot_training_curves({"a": np.linspace(1, 0, 40), "b": [1.0]}, tmp_path / "c.png"),
    ]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 2_000 < len(data) < 300_000
    Z = plots.pca_2d(E)
    assert Z.shape == (30, 2) and abs(Z[:, 0].var()) >= abs(Z[:, 1].var())
