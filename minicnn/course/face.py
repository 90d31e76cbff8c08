"""The face-recognition assignment's functions, with the assignment's signatures.

===================================================  ===================================
``triplet_loss(y_true, y_pred, alpha=0.2)``          J = Σ max(‖A−P‖² − ‖A−N‖² + α, 0)
``img_to_encoding(image, model)``                    (1, 128) unit-length encoding
``verify(image, identity, database, model, 0.7)``    (dist, is_same)             1:1
``who_is_it(image, database, model, 0.7)``           (min_dist, identity)        1:K
===================================================  ===================================

As in the assignment, ``database`` is a dict mapping names to encodings, and the
distance used by ``verify`` and ``who_is_it`` is the Euclidean norm
``np.linalg.norm(encoding − database[identity])`` (not squared; the triplet loss works
with squared distances), compared with the threshold 0.7: "same person" when dist < 0.7.

``model`` is the encoder: a minicnn module (such as
:class:`minicnn.apps.face.FaceEncoder`) or any callable that maps a batch
``(m, n_H, n_W, n_C)`` to ``(m, d)``. When it has an ``input_shape`` attribute
``(n_H, n_W, n_C)`` the image is converted and resized to it. ``image`` is a path or
an array (uint8 0..255 or float 0..1). For a database of many people and the
"not recognised" answer, see :class:`minicnn.apps.face.FaceDatabase`.
"""
from __future__ import annotations

import numpy as np

from ..apps.face.images import prepare_images
from ..autograd import Tensor, no_grad
from ..functional.face_loss import triplet_loss as _triplet_loss

__all__ = ["triplet_loss", "img_to_encoding", "verify", "who_is_it"]


def _array(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float64))


def triplet_loss(y_true, y_pred, alpha=0.2):
    """The triplet loss summed over the batch, as a Python float.

    ``y_true`` is not used (Keras losses take it). ``y_pred = [anchor, positive,
    negative]``, each ``(m, 128)`` (any ``(m, d)`` or ``(d,)``), arrays or tensors.
    """
    if len(y_pred) != 3:
        raise ValueError(f"y_pred must be [anchor, positive, negative], got {len(y_pred)} "
                         "items")
    anchor, positive, negative = (_array(x) for x in y_pred)
    return float(_triplet_loss(anchor, positive, negative, alpha=alpha, reduction="sum").item())


def img_to_encoding(image, model):
    """The encoding of one image (a path or an array) as a ``(1, d)`` unit-length array."""
    shape = getattr(model, "input_shape", None)
    size, n_C = (tuple(shape[:2]), shape[2]) if shape is not None else (None, 1)
    x = prepare_images(image, size, n_C)
    if len(x) != 1:
        raise ValueError(f"img_to_encoding takes one image, got {len(x)}")
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()
    try:
        with no_grad():
            f = model(Tensor(x))
    finally:
        if was_training:
            model.train()
    f = f.numpy() if isinstance(f, Tensor) else np.asarray(f)
    f = f.reshape(1, -1).astype(np.float32)
    return f / max(float(np.linalg.norm(f)), 1e-12)


def _db_matrix(database):
    if not isinstance(database, dict) or not database:
        raise ValueError("database must be a non-empty dict mapping names to encodings")
    names = list(database)
    G = np.stack([np.asarray(database[n], np.float32).reshape(-1) for n in names])
    return names, G


def verify(image, identity, database, model, threshold=0.7):
    """Is this ``identity``? Returns ``(dist, is_same)``, dist = ‖f(image) − database[identity]‖
    and is_same = dist < threshold (the door opens)."""
    if identity not in database:
        raise KeyError(f"verify: {identity!r} is not in the database (known: "
                       f"{', '.join(map(str, list(database)[:10]))})")
    encoding = img_to_encoding(image, model)
    dist = float(np.linalg.norm(encoding.reshape(-1) -
                                np.asarray(database[identity], np.float32).reshape(-1)))
    return dist, dist < threshold


def who_is_it(image, database, model, threshold=0.7, verbose=False):
    """Who is this? Returns ``(min_dist, identity)``: the nearest person of ``database``
    and their distance. As in the assignment, ``identity`` is the nearest person even
    when ``min_dist > threshold``, which means "not in the database" (printed when
    ``verbose``)."""
    encoding = img_to_encoding(image, model).reshape(-1)
    names, G = _db_matrix(database)
    dists = np.linalg.norm(G - encoding, axis=1)      # all people at once, no Python loop
    i = int(np.argmin(dists))
    min_dist, identity = float(dists[i]), names[i]
    if verbose:
        print("Not in the database." if min_dist > threshold else
              f"it's {identity}, the distance is {min_dist:.4g}")
    return min_dist, identity
