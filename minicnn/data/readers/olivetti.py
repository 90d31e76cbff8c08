"""The Olivetti (AT&T / ORL) faces: 40 people × 10 images, 64×64 grey.

Two file formats are read:

- ``olivetti_faces.npz`` with ``images`` uint8 ``(400, 64, 64)`` (raw values 0–242) and
  ``target`` ``(400,)`` (the project's shared data file);
- scikit-learn's cache ``olivetti.pkz`` (written by ``sklearn.datasets.fetch_olivetti_faces``
  in ``~/scikit_learn_data``): a joblib pickle of uint8 ``(400, 4096)``, each row a
  column-major 64×64 image.

Both give what ``fetch_olivetti_faces().images`` gives: pixels scaled by
``(x − min) / (max − min)`` = ``x / 242`` in float32 (not ``/ 255``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._common import add_channel_axis, missing, need

__all__ = ["load_olivetti", "olivetti_search_path"]

_HOW = ("Get it once on a machine with network: `python -c \"from sklearn.datasets import "
        "fetch_olivetti_faces; fetch_olivetti_faces()\"` writes ~/scikit_learn_data/olivetti.pkz "
        "(or take olivettifaces.mat from https://cs.nyu.edu/~roweis/data.html and save "
        "images/target to an .npz); then pass its path or set MINICNN_DATA to its folder")


def olivetti_search_path() -> list:
    """Where ``load_olivetti()`` looks when given no path, in order."""
    here = Path(__file__).resolve()
    places = []
    if os.environ.get("MINICNN_DATA"):
        places.append(Path(os.environ["MINICNN_DATA"]) / "olivetti_faces.npz")
    if len(here.parents) > 4:          # a checkout with the project's shared/ folder beside it
        places.append(here.parents[4] / "shared" / "data" / "olivetti_faces.npz")
    sk_home = os.environ.get("SCIKIT_LEARN_DATA", os.path.join("~", "scikit_learn_data"))
    places.append(Path(os.path.expanduser(sk_home)) / "olivetti.pkz")
    return places


def _read(path: Path) -> np.ndarray:
    """The raw uint8 faces (400, 64, 64), upright, from an .npz or a .pkz."""
    if path.suffix == ".pkz":
        joblib = need("joblib")
        faces = np.asarray(joblib.load(path))              # (400, 4096), column-major images
        return faces.reshape(-1, 64, 64).transpose(0, 2, 1)
    with np.load(path, allow_pickle=False) as f:
        if "images" not in f.files:
            raise ValueError(f"load_olivetti: {path} has no 'images' array (keys {f.files})")
        return f["images"]


def load_olivetti(path=None, raw=False):
    """``(X, y)``: the 400 faces and who they are.

    ``path``: an ``.npz`` or ``.pkz`` file, or a folder holding ``olivetti_faces.npz`` or
    ``olivetti.pkz``; None searches :func:`olivetti_search_path`.

    ==========  ============================================================
    returns     shape, dtype
    ==========  ============================================================
    ``X``       ``(400, 64, 64, 1)`` float32, ``(x − min)/(max − min)`` = x/242 as
                scikit-learn; uint8 0–242 if ``raw``
    ``y``       ``(400,)`` int64, the person 0–39 (ten images each, in order)
    ==========  ============================================================
    """
    if path is None:
        candidates = olivetti_search_path()
    else:
        p = Path(path)
        candidates = [p / "olivetti_faces.npz", p / "olivetti.pkz"] if p.is_dir() else [p]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise missing(" or ".join(str(c) for c in candidates), "the Olivetti faces", _HOW)
    images = _read(found)
    if images.shape != (400, 64, 64):
        raise ValueError(f"load_olivetti: {found} holds images of shape {images.shape}, "
                         "expected (400, 64, 64)")
    y = np.repeat(np.arange(40, dtype=np.int64), 10)
    if raw:
        return add_channel_axis(images.astype(np.uint8)), y
    # scikit-learn's exact operations, so the float32 values agree to the bit.
    faces = np.float32(images)
    faces = faces - faces.min()
    faces /= faces.max()
    return add_channel_axis(faces), y
