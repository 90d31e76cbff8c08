"""Face losses: hand-computed values, references, gradient checks (also at and near the
hinge), the mining strategies against brute-force loops, dtype and device behaviour."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minicnn as mc
from minicnn import functional as F
from minicnn.autograd import Tensor
from conftest import rand


def T(x, grad=False):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------ triplet: values
# (anchor, positive, negative, alpha, J): worked out by hand from
# J = Σ max(‖a − p‖² − ‖a − n‖² + α, 0).
HAND = [
    ([1., 1.], [1., 1.], [1., 1.], 5, 5.0),              # all equal: J = α
    ([1., 1.], [1., 1.], [0., 0.], 3, 1.0),              # d_ap = 0, d_an = 2
    ([1., 1.], [0., 0.], [1., 1.], 0, 2.0),              # d_ap = 2, d_an = 0
    ([0., 0.], [0., 0.], [0., 0.], -2, 0.0),             # negative argument: clipped to 0
    ([[1., 0.], [1., 0.]], [[1., 0.], [1., 0.]], [[0., 0.], [0., 0.]], 3, 4.0),   # summed
    ([[1., 1.], [2., 0.]], [[0., 3.], [1., 1.]], [[1., 0.], [0., 1.]], 1, 5.0),   # 5 + 0
    ([[0., 0.]], [[1., 0.]], [[3., 0.]], 0.2, 0.0),      # d_an − d_ap = 8 > α: past the margin
    ([[0., 0.]], [[1., 0.]], [[1., 1.]], 0.5, 0.0),      # 1 − 2 + 0.5 < 0: past the margin
    ([[0., 0.]], [[1., 0.]], [[1., 1.]], 1.5, 0.5),      # 1 − 2 + 1.5: inside the margin
]


@pytest.mark.parametrize("a, p, n, alpha, J", HAND)
def test_triplet_loss_hand_computed(a, p, n, alpha, J):
    out = F.triplet_loss(T(a), T(p), T(n), alpha=alpha)
    assert out.shape == () and out.item() == pytest.approx(J, abs=1e-12)


def test_triplet_loss_reductions():
    a, p, n = rand(5, 4, seed=1), rand(5, 4, seed=2), rand(5, 4, seed=3)
    per = F.triplet_loss(T(a), T(p), T(n), 1.0, reduction="none").data
    ref = np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0, 0)
    np.testing.assert_allclose(per, ref, rtol=1e-12)
    assert F.triplet_loss(T(a), T(p), T(n), 1.0, reduction="mean").item() == pytest.approx(
        ref.mean())
    with pytest.raises(ValueError, match="reduction"):
        F.triplet_loss(T(a), T(p), T(n), reduction="avg")
    with pytest.raises(ValueError, match=r"same shape.*positive \(5, 3\)"):
        F.triplet_loss(T(a), T(p[:, :3]), T(n))


@given(m=st.integers(1, 6), d=st.integers(1, 8), alpha=st.floats(0.0, 2.0),
       seed=st.integers(0, 10_000))
def test_triplet_loss_gradcheck_away_from_the_kink(m, d, alpha, seed):
    a, p, n = rand(m, d, seed=seed), rand(m, d, seed=seed + 1), rand(m, d, seed=seed + 2)
    z = ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + alpha
    assume(np.abs(z).min() > 1e-3)        # a finite difference must not straddle the kink
    mc.gradcheck(lambda a, p, n: F.triplet_loss(a, p, n, alpha, reduction="none"),
                 T(a, True), T(p, True), T(n, True))


def _triplet_with_margin_gap(z_target, alpha=0.2, d=5, seed=0):
    """(a, p, n) with ‖a − p‖² − ‖a − n‖² + α = z_target exactly (up to rounding)."""
    a, p, n0 = rand(1, d, seed=seed), rand(1, d, seed=seed + 1), rand(1, d, seed=seed + 2)
    d_ap = ((a - p) ** 2).sum()
    d_an_target = d_ap + alpha - z_target
    n = a + (n0 - a) * np.sqrt(d_an_target / ((n0 - a) ** 2).sum())
    return a, p, n


@pytest.mark.parametrize("z", [1e-3, -1e-3, 1e-2, -1e-2])
def test_triplet_loss_gradcheck_near_the_hinge(z):
    a, p, n = _triplet_with_margin_gap(z)
    L = F.triplet_loss(T(a), T(p), T(n), 0.2)
    assert L.item() == pytest.approx(max(z, 0), abs=1e-10)
    # ε = 1e-6 moves z by ~1e-5, so both sides of each difference stay on one side of 0
    mc.gradcheck(lambda a, p, n: F.triplet_loss(a, p, n, 0.2), T(a, True), T(p, True),
                 T(n, True))


def test_triplet_loss_subgradient_at_the_kink_is_zero():
    # d_ap = 1, d_an = 1, α = 0: the hinge's argument is exactly 0.
    a, p, n = T([[0., 0.]], True), T([[1., 0.]], True), T([[0., 1.]], True)
    L = F.triplet_loss(a, p, n, alpha=0.0)
    L.backward()
    assert L.item() == 0.0
    for x in (a, p, n):
        np.testing.assert_array_equal(x.grad, 0.0)
    # One step inside the margin, the gradient is the formula's: ∂J/∂a = 2(n − p).
    a, p, n = T([[0., 0.]], True), T([[1., 0.]], True), T([[0., 1.]], True)
    F.triplet_loss(a, p, n, alpha=1e-9).backward()
    np.testing.assert_allclose(a.grad, [[-2., 2.]])
    np.testing.assert_allclose(p.grad, [[2., 0.]])
    np.testing.assert_allclose(n.grad, [[0., -2.]])


def test_triplet_loss_float32_and_device(device):
    a, p, n = (Tensor(rand(4, 8, seed=s, dtype=np.float32), requires_grad=True).to(device)
               for s in range(3))
    for x in (a, p, n):
        x.requires_grad = True
    L = F.triplet_loss(a, p, n, 0.5)
    L.backward()
    assert L.dtype == np.float32 and L.device == device
    assert all(x.grad.dtype == np.float32 for x in (a, p, n))
    ref = F.triplet_loss(T(rand(4, 8, seed=0)), T(rand(4, 8, seed=1)), T(rand(4, 8, seed=2)), 0.5)
    assert L.item() == pytest.approx(ref.item(), rel=1e-5)


# ------------------------------------------------------- distances, normalising
@given(m=st.integers(1, 6), n=st.integers(1, 6), d=st.integers(1, 6), seed=st.integers(0, 999))
def test_pairwise_sq_distances_forward_and_gradcheck(m, n, d, seed):
    A, B = rand(m, d, seed=seed), rand(n, d, seed=seed + 1)
    ref = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(F.pairwise_sq_distances(T(A), T(B)).data, ref, atol=1e-12)
    mc.gradcheck(F.pairwise_sq_distances, T(A, True), T(B, True))
    # with itself: the diagonal is exactly 0 and gradients of both "sides" land on A
    D = F.pairwise_sq_distances(T(A))
    np.testing.assert_array_equal(np.diag(D.data), 0.0)
    np.testing.assert_allclose(D.data, ((A[:, None] - A[None]) ** 2).sum(-1), atol=1e-12)
    mc.gradcheck(F.pairwise_sq_distances, T(A, True))


def test_pairwise_sq_distances_never_negative_float32(device):
    # identical rows: the expansion ‖a‖² − 2a·b + ‖b‖² rounds to ±tiny in float32
    A = np.repeat(rand(1, 128, seed=3, dtype=np.float32) * 10, 4, axis=0)
    At = Tensor(A, requires_grad=True).to(device)
    At.requires_grad = True
    D = F.pairwise_sq_distances(At, Tensor(A).to(device))
    assert D.dtype == np.float32 and (D.numpy() >= 0).all()
    D.sum().backward()
    assert At.grad.dtype == np.float32


def test_pairwise_sq_distances_bad_shapes():
    with pytest.raises(ValueError, match=r"B \(n, d\).*B \(3, 5\)"):
        F.pairwise_sq_distances(T(rand(2, 4)), T(rand(3, 5)))


@given(m=st.integers(1, 5), d=st.integers(1, 7), seed=st.integers(0, 999))
def test_l2_normalize(m, d, seed):
    x = rand(m, d, seed=seed) + 0.1
    y = F.l2_normalize(T(x))
    np.testing.assert_allclose(y.data, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    mc.gradcheck(F.l2_normalize, T(x, True))


def test_l2_normalize_zero_vector_is_finite():
    x = T(np.zeros((2, 3)), True)
    y = F.l2_normalize(x)
    y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()


# -------------------------------------------------------------------- mining
def ref_mining(labels, D, mining):
    """The strategies written as the plain loops their definitions describe."""
    m = len(labels)
    out = []
    for a in range(m):
        pos = [p for p in range(m) if p != a and labels[p] == labels[a]]
        neg = [n for n in range(m) if labels[n] != labels[a]]
        if not pos or not neg:
            continue
        if mining == "batch_all":
            out += [(a, p, n) for p in pos for n in neg]
        elif mining == "batch_hard":
            p = max(pos, key=lambda j: (D[a, j], -j))      # first of the ties, as argmax
            n = min(neg, key=lambda j: (D[a, j], j))
            out.append((a, p, n))
        elif mining == "semi_hard":
            for p in pos:
                farther = [n for n in neg if D[a, n] > D[a, p]]
                if farther:
                    n = min(farther, key=lambda j: (D[a, j], j))
                else:
                    n = max(neg, key=lambda j: (D[a, j], -j))
                out.append((a, p, n))
    return sorted(out)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=9), seed=st.integers(0, 999))
def test_mining_matches_the_definition(mining, labels, seed):
    labels = np.array(labels)
    X = rand(len(labels), 3, seed=seed)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    a, p, n = F.mine_triplets(labels, D, mining)
    got = sorted(zip(a.tolist(), p.tolist(), n.tolist()))
    assert got == ref_mining(labels, D, mining)


def constructed_batch():
    """Six encodings on a line, two people, every distance in it different:

        x:      0    1    2.5   3    6    8
        index:  0    1    3     2    4    5
        person: 0    0    1     0    1    1
    """
    x = np.array([0., 1., 3., 2.5, 6., 8.])[:, None]
    labels = np.array([0, 0, 0, 1, 1, 1])
    return x, labels, (x - x.T) ** 2


def test_batch_hard_picks_farthest_positive_and_nearest_negative():
    x, labels, D = constructed_batch()
    a, p, n = F.mine_triplets(labels, D, "batch_hard")
    # anchor x=0:   positives x=1 (d 1), x=3 (9)       → x=3; negatives 6.25, 36, 64 → x=2.5
    # anchor x=1:   positives x=0 (1), x=3 (4)         → x=3; nearest negative x=2.5 (2.25)
    # anchor x=3:   positives x=0 (9), x=1 (4)         → x=0; nearest negative x=2.5 (0.25)
    # anchor x=2.5: positives x=6 (12.25), x=8 (30.25) → x=8; negatives 6.25, 2.25, 0.25 → x=3
    # anchor x=6:   positives x=2.5 (12.25), x=8 (4)   → x=2.5; nearest negative x=3 (9)
    # anchor x=8:   positives x=2.5 (30.25), x=6 (4)   → x=2.5; nearest negative x=3 (25)
    assert a.tolist() == [0, 1, 2, 3, 4, 5]
    assert p.tolist() == [2, 2, 0, 5, 3, 3]
    assert n.tolist() == [3, 3, 3, 2, 2, 2]


def test_semi_hard_picks_nearest_negative_beyond_the_positive():
    x, labels, D = constructed_batch()
    a, p, n = F.mine_triplets(labels, D, "semi_hard", alpha=0.2)
    trip = dict(((ai, pi), ni) for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist()))
    assert len(trip) == 12                        # every (anchor, positive) pair once
    # anchor x=0, positive x=1 (d 1): negatives at 6.25, 36, 64 → the nearest, x=2.5
    assert trip[(0, 1)] == 3
    # anchor x=0, positive x=3 (d 9): negatives farther than 9 are x=6 (36), x=8 (64) → x=6
    assert trip[(0, 2)] == 4
    # anchor x=6, positive x=2.5 (d 12.25): negatives at 36, 25, 9 → beyond it: 36, 25 → x=1
    assert trip[(4, 3)] == 1
    # anchor x=2.5, positive x=8 (d 30.25): no negative is farther (6.25, 2.25, 0.25):
    # the farthest one, x=0
    assert trip[(3, 5)] == 0


def test_batch_all_counts_and_validity():
    P, K = 4, 3
    labels = np.repeat(np.arange(P), K)
    a, p, n = F.batch_all_triplets(labels)
    m = P * K
    assert len(a) == m * (K - 1) * (m - K)
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()


def test_random_triplets_are_valid_and_reproducible():
    labels = np.array([0, 0, 1, 1, 1, 2, 5])     # the lone 2 and 5 have no positive
    a1, p1, n1 = F.random_triplets(labels, rng=np.random.default_rng(7))
    a2, p2, n2 = F.random_triplets(labels, rng=np.random.default_rng(7))
    assert a1.tolist() == [0, 1, 2, 3, 4]
    assert (labels[a1] == labels[p1]).all() and (a1 != p1).all()
    assert (labels[a1] != labels[n1]).all()
    assert p1.tolist() == p2.tolist() and n1.tolist() == n2.tolist()
    # every negative of anchor 0 turns up over many draws: the choice is uniform-ish
    rng = np.random.default_rng(0)
    seen = {int(F.random_triplets(labels, rng=rng)[2][0]) for _ in range(200)}
    assert seen == {2, 3, 4, 5, 6}


def test_mining_errors():
    with pytest.raises(ValueError, match="mining must be one of"):
        F.mine_triplets([0, 1], np.zeros((2, 2)), "hardest")
    with pytest.raises(ValueError, match=r"D must be \(m, m\) with m = len\(labels\) = 3"):
        F.mine_triplets([0, 1, 1], np.zeros((2, 2)))


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard", "random"])
def test_batch_triplet_loss_equals_triplet_loss_on_the_mined_triplets(mining):
    labels = np.repeat(np.arange(3), 3)
    f = rand(9, 4, seed=5)
    L, info = F.batch_triplet_loss(T(f), labels, alpha=0.5, mining=mining, reduction="sum",
                                   rng=np.random.default_rng(1))
    D = ((f[:, None] - f[None]) ** 2).sum(-1)
    a, p, n = F.mine_triplets(labels, D, mining, 0.5, rng=np.random.default_rng(1))
    ref = F.triplet_loss(T(f[a]), T(f[p]), T(f[n]), 0.5).item()
    assert L.item() == pytest.approx(ref, rel=1e-10)
    assert info["triplets"] == len(a) and 0 <= info["active"] <= len(a)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
@pytest.mark.parametrize("reduction", ["mean", "mean_active"])
def test_batch_triplet_loss_gradcheck(mining, reduction):
    labels = np.repeat(np.arange(3), 2)
    f = rand(6, 3, seed=11)
    D = ((f[:, None] - f[None]) ** 2).sum(-1)
    a, p, n = F.mine_triplets(labels, D, mining, 1.0)
    z = D[a, p] - D[a, n] + 1.0
    assert np.abs(z).min() > 1e-3 and (z > 0).any()   # away from kinks, some loss
    mc.gradcheck(lambda f: F.batch_triplet_loss(f, labels, 1.0, mining, reduction)[0],
                 T(f, True))


def test_batch_triplet_loss_one_person_is_zero():
    f = T(rand(3, 4), True)
    L, info = F.batch_triplet_loss(f, [2, 2, 2])
    L.backward()
    assert L.item() == 0 and info["triplets"] == 0
    np.testing.assert_array_equal(f.grad, 0)


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard", "random"])
def test_batch_triplet_loss_on_device(device, mining):
    f32 = rand(8, 16, seed=2, dtype=np.float32)
    labels = np.repeat(np.arange(4), 2)
    f = Tensor(f32).to(device)
    f.requires_grad = True
    L, _ = F.batch_triplet_loss(f, labels, 0.2, mining, rng=np.random.default_rng(3))
    L.backward()
    ref, _ = F.batch_triplet_loss(T(f32), labels, 0.2, mining, rng=np.random.default_rng(3))
    assert L.dtype == np.float32 and f.grad.dtype == np.float32
    assert L.item() == pytest.approx(ref.item(), rel=1e-4)


# ---------------------------------------------------------------- contrastive
def test_contrastive_loss_hand_computed():
    x1 = T([[0., 0.], [0., 0.], [0., 0.], [0., 0.]])
    x2 = T([[3., 4.], [0.3, 0.4], [3., 4.], [0., 0.]])
    y = np.array([1, 0, 0, 0])
    # same pair at d = 5: d² = 25; different at d = 0.5 < margin 1: (1 − 0.5)² = 0.25;
    # different at d = 5 past the margin: 0; different at d = 0: margin² = 1
    L = F.contrastive_loss(x1, x2, y, margin=1.0, reduction="none")
    np.testing.assert_allclose(L.data, [25, 0.25, 0, 1], atol=1e-12)
    assert F.contrastive_loss(x1, x2, y, reduction="sum").item() == pytest.approx(26.25)


@given(m=st.integers(1, 6), d=st.integers(1, 5), margin=st.floats(0.5, 3.0),
       seed=st.integers(0, 999))
def test_contrastive_loss_gradcheck(m, d, margin, seed):
    x1, x2 = rand(m, d, seed=seed), rand(m, d, seed=seed + 1)
    y = np.random.default_rng(seed).integers(0, 2, m)
    dist = np.linalg.norm(x1 - x2, axis=1)
    assume(np.abs(dist - margin).min() > 1e-3)
    ref = np.where(y == 1, dist ** 2, np.maximum(margin - dist, 0) ** 2)
    np.testing.assert_allclose(F.contrastive_loss(T(x1), T(x2), y, margin, "none").data, ref,
                               rtol=1e-10)
    mc.gradcheck(lambda a, b: F.contrastive_loss(a, b, y, margin), T(x1, True), T(x2, True))


def test_contrastive_loss_zero_distance_negative_has_finite_zero_gradient():
    x1, x2 = T([[1., 2.]], True), T([[1., 2.]], True)
    F.contrastive_loss(x1, x2, [0]).backward()
    np.testing.assert_array_equal(x1.grad, 0)
    np.testing.assert_array_equal(x2.grad, 0)
    with pytest.raises(ValueError, match=r"y must have shape \(1,\)"):
        F.contrastive_loss(x1, x2, [0, 1])


# --------------------------------------------------------------- Siamese head
def test_pair_features_values():
    f1, f2 = T([[0.5, -0.2, 0.0]]), T([[0.1, 0.3, 0.0]])
    np.testing.assert_allclose(F.pair_features(f1, f2, "abs").data, [[0.4, 0.5, 0.0]])
    # χ²: (f₁ − f₂)² / (|f₁| + |f₂| + ε); a component that is 0 on both sides gives 0
    np.testing.assert_allclose(F.pair_features(f1, f2, "chi2", eps=1e-6).data,
                               [[0.16 / (0.6 + 1e-6), 0.25 / (0.5 + 1e-6), 0.0]], rtol=1e-12)
    with pytest.raises(ValueError, match="eps must be > 0"):
        F.pair_features(f1, f2, "chi2", eps=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        F.pair_features(f1, f2, "cosine")


@pytest.mark.parametrize("kind", ["abs", "chi2"])
def test_siamese_logits_and_loss(kind):
    f1, f2 = rand(5, 4, seed=1), rand(5, 4, seed=2)
    w, b = rand(4, seed=3), np.array(0.3)
    y = np.array([1, 0, 1, 1, 0])
    z = F.siamese_logits(T(f1), T(f2), T(w), T(b), kind).data
    phi = np.abs(f1 - f2) if kind == "abs" else (f1 - f2) ** 2 / (np.abs(f1) + np.abs(f2) + 1e-6)
    np.testing.assert_allclose(z, phi @ w + 0.3, rtol=1e-10)
    y_hat = 1 / (1 + np.exp(-z))
    ref = -np.mean(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))
    assert F.siamese_loss(T(f1), T(f2), y, T(w), T(b), kind).item() == pytest.approx(ref)
    # gradients for the encodings (both sides) and the head's w and b
    mc.gradcheck(lambda a, c, w, b: F.siamese_loss(a, c, y, w, b, kind),
                 T(f1, True), T(f2, True), T(w, True), T(b, True))
    with pytest.raises(ValueError, match=r"w must have shape \(4,\)"):
        F.siamese_logits(T(f1), T(f2), T(rand(3)), T(b))


def test_all_losses_keep_float32():
    f = [Tensor(rand(6, 8, seed=s, dtype=np.float32), requires_grad=True) for s in range(2)]
    w, b = Tensor(rand(8, dtype=np.float32), requires_grad=True), Tensor(np.float32(0.1),
                                                                         requires_grad=True)
    y = np.array([1, 0, 1, 0, 1, 0])
    for loss in (F.contrastive_loss(f[0], f[1], y),
                 F.siamese_loss(f[0], f[1], y, w, b, "chi2"),
                 F.batch_triplet_loss(F.l2_normalize(f[0]), y, mining="batch_all")[0]):
        for x in f + [w, b]:
            x.grad = None
        loss.backward()
        assert loss.dtype == np.float32
        assert all(x.grad is None or x.grad.dtype == np.float32 for x in f + [w, b])


def test_mining_strategies_listed():
    assert set(F.MINING_STRATEGIES) == {"batch_all", "batch_hard", "semi_hard", "random"}


# ------------------------------------------------- margin softmax (CosFace / ArcFace)
def _margin_reference(f, W, y, s, m, kind):
    """The loss written out per sample from the definitions (no shared code)."""
    J = []
    for f_i, y_i in zip(f, y):
        c = (f_i / np.linalg.norm(f_i)) @ (W / np.linalg.norm(W, axis=0))
        z = s * c
        theta = np.arccos(np.clip(c[y_i], -1, 1))
        if kind == "cosface":
            z[y_i] = s * (c[y_i] - m)
        elif kind == "arcface":
            z[y_i] = s * (np.cos(theta + m) if theta + m <= np.pi else c[y_i] + np.cos(m) - 1)
        J.append(np.log(np.exp(z).sum()) - z[y_i])
    return np.mean(J)


@pytest.mark.parametrize("kind", ["softmax", "cosface", "arcface"])
@given(m=st.integers(1, 6), d=st.integers(2, 5), C=st.integers(2, 5),
       margin=st.floats(0.0, 0.6), s=st.floats(1.0, 20.0), seed=st.integers(0, 999))
def test_margin_softmax_loss_reference_and_gradcheck(kind, m, d, C, margin, s, seed):
    f, W = rand(m, d, seed=seed), rand(d, C, seed=seed + 1)
    y = np.random.default_rng(seed).integers(0, C, m)
    J = F.margin_softmax_loss(T(f), T(W), y, s, margin, kind)
    assert J.item() == pytest.approx(_margin_reference(f, W, y, s, margin, kind), rel=1e-9)
    mc.gradcheck(lambda a, b: F.margin_softmax_loss(a, b, y, s, margin, kind),
                 T(f, True), T(W, True))


def test_margin_softmax_hand_computed():
    """Two identities along the axes, an encoding on identity 0's axis: c = (1, 0).
    CosFace: z = s·(1 − m, 0); ArcFace: z = s·(cos m, 0); softmax: z = s·(1, 0)."""
    f, W, y, s, m = T([[2., 0.]]), T([[3., 0.], [0., 1.]]), [0], 4.0, 0.5
    for kind, z0 in [("softmax", 1.0), ("cosface", 0.5), ("arcface", np.cos(0.5))]:
        z = F.margin_logits(F.cosine_logits(f, W), y, s, m, kind).data
        np.testing.assert_allclose(z, [[s * z0, 0.0]], atol=1e-12)
        assert F.margin_softmax_loss(f, W, y, s, m, kind).item() == \
            pytest.approx(np.log(1 + np.exp(-s * z0)))


def test_arcface_past_pi_continues_without_a_jump_and_has_finite_gradients():
    m = 0.5
    edge = np.pi - m                          # θ + m = π: where the two pieces meet
    psi = []
    for theta in (edge - 1e-7, edge + 1e-7, np.pi):
        c = T([[np.cos(theta), 0.3]], True)
        z = F.margin_logits(c, [0], 1.0, m, "arcface")
        psi.append(z.data[0, 0])
        ref = np.cos(theta + m) if theta <= edge else np.cos(theta) + np.cos(m) - 1
        assert z.data[0, 0] == pytest.approx(ref, abs=1e-6)
        z.sum().backward()
        assert np.isfinite(c.grad).all()
    assert abs(psi[0] - psi[1]) < 1e-6 and psi[2] < psi[1]     # continuous, still increasing in c


def test_margin_softmax_errors():
    f, W = T(rand(3, 4)), T(rand(4, 5))
    with pytest.raises(ValueError, match="kind must be one of"):
        F.margin_softmax_loss(f, W, [0, 1, 2], kind="sphereface")
    with pytest.raises(ValueError, match="W \\(d, C\\)"):
        F.margin_softmax_loss(f, T(rand(3, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match="labels must be in \\[0, 4\\]"):
        F.margin_softmax_loss(f, W, [0, 1, 5])
    with pytest.raises(TypeError, match="integer class indices"):
        F.margin_softmax_loss(f, W, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="s must be > 0"):
        F.margin_softmax_loss(f, W, [0, 1, 2], s=0.0)
    with pytest.raises(ValueError, match="ArcFace margin"):
        F.margin_softmax_loss(f, W, [0, 1, 2], m=2.0, kind="arcface")
    assert F.MARGIN_KINDS == ("softmax", "cosface", "arcface")


def test_margin_softmax_keeps_float32():
    f = Tensor(rand(6, 8, seed=1, dtype=np.float32), requires_grad=True)
    W = Tensor(rand(8, 3, seed=2, dtype=np.float32), requires_grad=True)
    J = F.margin_softmax_loss(f, W, np.array([0, 1, 2, 0, 1, 2]), kind="arcface")
    J.backward()
    assert J.dtype == np.float32 and f.grad.dtype == np.float32 and W.grad.dtype == np.float32
