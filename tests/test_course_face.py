"""The course's face-recognition functions: the assignment's signatures and checks."""
import numpy as np
import pytest
from PIL import Image

import minicnn.nn as nn
from minicnn.autograd import Tensor
from minicnn.course import face as course
from minicnn import functional as F


# The assignment's own checks of triplet_loss, computed by hand from its definition.
@pytest.mark.parametrize("y_pred, alpha, J", [
    (([1., 1.], [1., 1.], [1., 1.]), 5, 5.0),
    (([1., 1.], [1., 1.], [0., 0.]), 3, 1.0),
    (([1., 1.], [0., 0.], [1., 1.]), 0, 2.0),
    (([0., 0.], [0., 0.], [0., 0.]), -2, 0.0),
    (([[1., 0.], [1., 0.]], [[1., 0.], [1., 0.]], [[0., 0.], [0., 0.]]), 3, 4.0),
    (([[1., 1.], [2., 0.]], [[0., 3.], [1., 1.]], [[1., 0.], [0., 1.]]), 1, 5.0),
])
def test_triplet_loss_assignment_cases(y_pred, alpha, J):
    loss = course.triplet_loss(None, y_pred, alpha)
    assert isinstance(loss, float) and loss == J


def test_triplet_loss_random_batch_default_alpha():
    rng = np.random.default_rng(1)
    A, P, N = (rng.normal(m, s, (3, 128)) for m, s in ((6, 0.1), (1, 1), (3, 4)))
    ref = np.maximum(((A - P) ** 2).sum(1) - ((A - N) ** 2).sum(1) + 0.2, 0).sum()
    assert course.triplet_loss((None, None, None), [A, P, N]) == pytest.approx(ref, rel=1e-12)
    # tensors work too (float32 in, the value as a float out)
    got = course.triplet_loss(None, [Tensor(x.astype(np.float32)) for x in (A, P, N)])
    assert got == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match=r"\[anchor, positive, negative\]"):
        course.triplet_loss(None, [A, P])


class TinyEncoder(nn.Module):
    """Flatten an 8×8 grey image, one linear map to 16, normalise."""
    input_shape = (8, 8, 1)

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 16)

    def forward(self, x):
        return F.l2_normalize(self.fc(x.reshape(x.shape[0], -1)))


@pytest.fixture
def model():
    return TinyEncoder()


def test_img_to_encoding_from_array_and_path(model, tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((16, 16, 3)) * 255).astype(np.uint8)     # colour, twice the size
    Image.fromarray(img).save(tmp_path / "face.png")
    e_path = course.img_to_encoding(str(tmp_path / "face.png"), model)
    e_arr = course.img_to_encoding(img, model)
    assert e_path.shape == (1, 16) and e_path.dtype == np.float32
    assert np.linalg.norm(e_path) == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(e_path, e_arr, atol=2e-2)       # same picture, two routes
    model.train()
    course.img_to_encoding(img, model)
    assert model.training                                      # the mode is restored
    with pytest.raises(ValueError, match="one image, got 2"):
        course.img_to_encoding(np.zeros((2, 8, 8, 1), np.float32), model)


def test_verify_and_who_is_it(model):
    rng = np.random.default_rng(3)
    people = {name: rng.random((8, 8)).astype(np.float32) for name in ("andrew", "kian", "younes")}
    database = {name: course.img_to_encoding(x, model) for name, x in people.items()}
    probe = np.clip(people["kian"] + 0.01 * rng.normal(size=(8, 8)), 0, 1).astype(np.float32)
    e = course.img_to_encoding(probe, model)

    dist, is_same = course.verify(probe, "kian", database, model)
    assert dist == pytest.approx(np.linalg.norm(e - database["kian"]), abs=1e-6)
    assert is_same == (dist < 0.7) and is_same
    dist, is_same = course.verify(probe, "andrew", database, model, threshold=1e-3)
    assert not is_same

    min_dist, identity = course.who_is_it(probe, database, model)
    ref = {n: np.linalg.norm(e - v) for n, v in database.items()}
    assert identity == min(ref, key=ref.get) == "kian"
    assert min_dist == pytest.approx(min(ref.values()), abs=1e-6)
    with pytest.raises(KeyError, match="'bertrand' is not in the database"):
        course.verify(probe, "bertrand", database, model)


def test_who_is_it_reports_not_in_database(model, capsys):
    rng = np.random.default_rng(4)
    database = {"andrew": course.img_to_encoding(rng.random((8, 8)), model)}
    stranger = rng.random((8, 8))
    min_dist, identity = course.who_is_it(stranger, database, model, threshold=1e-6,
                                          verbose=True)
    # as in the assignment, the nearest identity comes back with its distance
    assert identity == "andrew" and min_dist > 1e-6
    assert "Not in the database." in capsys.readouterr().out
    course.who_is_it(stranger, database, model, threshold=10.0, verbose=True)
    assert "it's andrew" in capsys.readouterr().out


def test_course_package_reexports():
    import minicnn.course as mc_course
    for name in ("triplet_loss", "img_to_encoding", "verify", "who_is_it"):
        assert getattr(mc_course, name) is getattr(course, name)
