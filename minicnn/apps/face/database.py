"""A face database: enrol people from one photo each, then verify (1:1) and identify (1:K).

The encoder is run once per enrolment photo; what is stored is the encodings, as the
rows of one ``(n, d)`` float32 matrix G, with the name of each row's person. A query
is encoded once and compared with every row in a single matrix-vector product:

    d_j = ‖q − g_j‖² = ‖q‖² − 2 q·g_j + ‖g_j‖²      (‖g_j‖² computed at enrolment)

so identifying among 100,000 enrolled encodings is one pass over G (a few ms), and
top-k is ``argpartition``, not a sort. A person with several photos has several rows;
their distance to a query is the nearest of them.

========================  ====================================================
``verify(image, name)``   (d, d ≤ τ): is this ``name``?                   (1:1)
``identify(image, k)``    the nearest person and distance, or "not recognised"
                          (``name`` None) when d > τ; plus the k nearest   (1:K)
``save`` / ``load``       one ``.npz`` written atomically (temp file + rename),
                          with a format tag, a version and the encoding size
========================  ====================================================
"""
from __future__ import annotations

import json
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np

from ...io.atomic import atomic_write

__all__ = ["FaceDatabase", "FaceDatabaseError", "Verification", "Identification",
           "squared_distances"]

FORMAT = "minicnn-face-database"
VERSION = 1

Verification = namedtuple("Verification", "distance is_same")
Identification = namedtuple("Identification", "name distance nearest top")
Identification.__doc__ = """Answer of ``identify``: ``name`` is the recognised person or None
("not recognised": even the nearest is farther than τ), ``distance`` the nearest distance,
``nearest`` the nearest person whatever τ says, ``top`` [(name, distance)] for the k nearest
people, nearest first."""


class FaceDatabaseError(ValueError):
    """A database file that cannot be used: corrupt, of another format or version, or
    made with encodings of another size."""


def squared_distances(Q, G, G_sq=None):
    """(q, n) matrix of ‖Q_i − G_j‖², clamped at 0 (rounding can go slightly below).

    ``G_sq`` = ‖G_j‖² when already known, which saves a pass over G.
    """
    Q = np.atleast_2d(Q)
    if G_sq is None:
        G_sq = np.einsum("ij,ij->i", G, G)
    D = Q @ G.T                        # the one pass over G; the rest is in place
    D *= -2
    D += G_sq[None, :]
    D += np.einsum("ij,ij->i", Q, Q)[:, None]
    return np.maximum(D, 0, out=D)


class FaceDatabase:
    """People enrolled by name, each with one or more stored encodings.

    Parameters
    ----------
    encoder_fn : callable ``images -> (m, d)`` array of encodings, or None when only
        ready-made encodings are used (``add_encodings``, ``identify_encodings``).
        It receives what ``enrol``/``verify``/``identify`` were given (an array, a path,
        a list of them) and must return one row per image.
    threshold : τ, on the squared distance: "same person" when d ≤ τ. Choose it from
        validation pairs (:func:`minicnn.apps.face.metrics.best_threshold`).
    dim : the encoding size d; set by the first enrolment when None.
    meta : a dict of JSON-able facts saved with the database (e.g. which model made it).
    distance_fn : ``(Q, G) -> (q, n)`` distances to use instead of ‖q − g‖², e.g. the
        Siamese head's −logit. It is code, so it is not saved: pass it again to ``load``.
    """

    def __init__(self, encoder_fn, threshold, dim=None, meta=None, distance_fn=None):
        self.encoder_fn = encoder_fn
        self.distance_fn = distance_fn
        self.threshold = float(threshold)
        self.dim = None if dim is None else int(dim)
        self.meta = dict(meta or {})
        self._G = np.zeros((0, self.dim or 0), np.float32)   # rows 0.._n−1 used
        self._G_sq = np.zeros(0, np.float32)
        self._person = np.zeros(0, np.int64)                  # row → index in _names
        self._n = 0
        self._names = []
        self._index = {}

    # ----------------------------------------------------------- contents
    @property
    def names(self):
        """The enrolled people, in order of enrolment."""
        return list(self._names)

    @property
    def encodings(self):
        """(n, d) stored encodings (a read-only view)."""
        G = self._G[:self._n]
        G.flags.writeable = False
        return G

    @property
    def row_names(self):
        return [self._names[i] for i in self._person[:self._n]]

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._index

    def __repr__(self):
        return (f"FaceDatabase({len(self)} people, {self._n} encodings of size {self.dim}, "
                f"threshold={self.threshold:g})")

    # ----------------------------------------------------------- encoding
    def encode(self, images):
        if self.encoder_fn is None:
            raise RuntimeError("this FaceDatabase has no encoder_fn: pass one to "
                               "FaceDatabase(...) or load(..., encoder_fn=...) to work from "
                               "images, or use the *_encodings methods")
        E = np.asarray(self.encoder_fn(images), dtype=np.float32)
        if E.ndim == 1:
            E = E[None, :]
        if E.ndim != 2:
            raise ValueError(f"encoder_fn returned an array of shape {E.shape}, expected "
                             "(m, d): one encoding per image")
        return E

    def _encode_one(self, image, what):
        E = self.encode(image)
        if len(E) != 1:
            raise ValueError(f"{what} takes one image, got {len(E)}; call it once per image")
        return E

    # ----------------------------------------------------------- enrolment
    def enrol(self, name, images):
        """Add a person from one or more photos (encoded now, once). Returns the number of
        encodings stored for them. Enrolling a known name adds photos to that person."""
        return self.add_encodings(name, self.encode(images))

    def add_encodings(self, names, E):
        """Store ready-made encodings: ``names`` is one name for all rows or one per row."""
        E = np.asarray(E, dtype=np.float32)
        E = E[None, :] if E.ndim == 1 else E
        if E.ndim != 2 or len(E) == 0:
            raise ValueError(f"encodings must be (m, d) with m ≥ 1, got shape {E.shape}")
        if self.dim is None:
            self.dim = E.shape[1]
        if E.shape[1] != self.dim:
            raise ValueError(f"encodings have size {E.shape[1]}, but this database stores "
                             f"encodings of size {self.dim}")
        if isinstance(names, str):
            names = [names] * len(E)
        names = list(names)
        if len(names) != len(E):
            raise ValueError(f"got {len(names)} names for {len(E)} encodings")
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a name must be a non-empty string, got {name!r}")
        for name in names:
            if name not in self._index:
                self._index[name] = len(self._names)
                self._names.append(name)
        self._grow(self._n + len(E))
        rows = slice(self._n, self._n + len(E))
        self._G[rows] = E
        self._G_sq[rows] = np.einsum("ij,ij->i", E, E)
        self._person[rows] = [self._index[nm] for nm in names]
        self._n += len(E)
        return int(np.sum(self._person[:self._n] == self._index[names[-1]]))

    def _grow(self, n):
        """Room for n rows, doubling the capacity so that one-by-one enrolment stays linear."""
        cap = len(self._G)
        if n <= cap and self._G.shape[1] == self.dim:
            return
        cap = max(n, 2 * cap, 16)
        G = np.zeros((cap, self.dim), np.float32)
        if self._n:
            G[:self._n] = self._G[:self._n]
        self._G = G
        self._G_sq = np.concatenate([self._G_sq[:self._n], np.zeros(cap - self._n, np.float32)])
        self._person = np.concatenate([self._person[:self._n],
                                       np.zeros(cap - self._n, np.int64)])

    def remove(self, name):
        """Forget a person and their encodings."""
        if name not in self._index:
            raise KeyError(f"{name!r} is not enrolled")
        pid = self._index[name]
        keep = self._person[:self._n] != pid
        G, person = self._G[:self._n][keep], self._person[:self._n][keep]
        person = person - (person > pid)
        del self._names[pid]
        self._index = {nm: i for i, nm in enumerate(self._names)}
        self._G, self._G_sq, self._person, self._n = (
            G.copy(), np.einsum("ij,ij->i", G, G), person, len(G))

    # -------------------------------------------------------- the questions
    def verify(self, image, name):
        """1:1. ``(distance, is_same)``: the distance of ``image`` to ``name``'s nearest
        stored encoding, and whether it is within τ."""
        return self.verify_encoding(self._encode_one(image, "verify")[0], name)

    def verify_encoding(self, e, name):
        if name not in self._index:
            raise KeyError(f"verify: {name!r} is not enrolled (enrolled: "
                           f"{', '.join(self._names[:10]) or 'nobody'}"
                           f"{' ...' if len(self) > 10 else ''})")
        rows = np.nonzero(self._person[:self._n] == self._index[name])[0]
        d = float(self._distances(self._check_query(e), rows).min())
        return Verification(d, d <= self.threshold)

    def identify(self, image, k=1):
        """1:K. The nearest enrolled person, or ``name=None`` ("not recognised") when even
        the nearest is farther than τ; ``top`` lists the ``k`` nearest people."""
        return self.identify_encodings(self._encode_one(image, "identify"), k)[0]

    def identify_encodings(self, Q, k=1):
        """``identify`` for a batch of ready-made encodings ``(q, d)``: one matrix product
        for the whole batch. Returns a list of :class:`Identification`."""
        if self._n == 0:
            raise RuntimeError("identify: the database is empty; enrol someone first")
        Q = self._check_query(Q)
        k = max(1, min(int(k), len(self._names)))
        D = self._distances(Q, slice(0, self._n))
        person = self._person[:self._n]
        r = 1 if self._n == len(self._names) else int(np.bincount(person).max())
        # The k nearest people have their nearest rows among the k·r nearest rows, r the
        # most rows any one person has: fewer than k people cannot fill k·r rows.
        k_rows = min(self._n, k * r)
        out = []
        for d in D:
            rows = np.argpartition(d, k_rows - 1)[:k_rows] if k_rows < self._n else \
                np.arange(self._n)
            rows = rows[np.argsort(d[rows], kind="stable")]
            top, seen = [], set()
            for r in rows:
                pid = int(person[r])
                if pid not in seen:
                    seen.add(pid)
                    top.append((self._names[pid], float(d[r])))
                    if len(top) == k:
                        break
            nearest, dist = top[0]
            out.append(Identification(nearest if dist <= self.threshold else None, dist,
                                      nearest, top))
        return out

    def _distances(self, Q, rows):
        if self.distance_fn is not None:
            return np.asarray(self.distance_fn(Q, self._G[rows]))
        return squared_distances(Q, self._G[rows], self._G_sq[rows])

    def _check_query(self, Q):
        Q = np.asarray(Q, dtype=np.float32)
        Q = Q[None, :] if Q.ndim == 1 else Q
        if self.dim is not None and (Q.ndim != 2 or Q.shape[1] != self.dim):
            raise ValueError(f"query encodings must be (q, {self.dim}), got shape {Q.shape}")
        return Q

    # -------------------------------------------------------------- files
    def save(self, path):
        """Write the database to ``path`` (``.npz``) atomically: a temp file in the same
        folder, flushed to disk, then renamed over ``path``, so a crash leaves either the
        old file or the new one, never half of one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "format": np.array(FORMAT), "version": np.array(VERSION),
            "dim": np.array(-1 if self.dim is None else self.dim),
            "threshold": np.array(self.threshold, np.float64),
            "encodings": self._G[:self._n], "person": self._person[:self._n],
            "names": np.array(self._names, dtype=str).reshape(-1),
            "meta": np.array(json.dumps(self.meta)),
        }
        with atomic_write(path, "FaceDatabase.save") as f:
            np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path, encoder_fn=None, expected_dim=None, threshold=None, distance_fn=None):
        """Read a database written by ``save``. ``expected_dim``: the encoder's output size,
        checked against the stored encodings; ``threshold`` overrides the stored τ.

        Raises :class:`FaceDatabaseError` for a file that is corrupt or truncated, of
        another format or version, internally inconsistent, or of the wrong dimension.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"face database {str(path)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
            raise FaceDatabaseError(f"{path}: not a readable face database (corrupt or "
                                    f"truncated file?): {e}") from e
        missing = {"format", "version", "dim", "threshold", "encodings", "person", "names",
                   "meta"} - set(data)
        if "format" not in data or str(data["format"]) != FORMAT:
            raise FaceDatabaseError(f"{path}: not a face database (format tag "
                                    f"{str(data.get('format', 'missing'))!r}, expected "
                                    f"{FORMAT!r})")
        if "version" not in data or int(data["version"]) != VERSION:
            raise FaceDatabaseError(f"{path}: face database version "
                                    f"{data.get('version', 'missing')}, this minicnn reads "
                                    f"version {VERSION}")
        if missing:
            raise FaceDatabaseError(f"{path}: face database is missing {sorted(missing)}")
        dim, G, person = int(data["dim"]), data["encodings"], data["person"]
        names = [str(s) for s in data["names"].reshape(-1)]
        if dim > 0 and (G.ndim != 2 or G.shape[1] != dim):
            raise FaceDatabaseError(f"{path}: encodings have shape {G.shape}, but the header "
                                    f"says size {dim}")
        if len(person) != len(G) or (len(person) and (person.min() < 0 or
                                                      person.max() >= len(names))):
            raise FaceDatabaseError(f"{path}: rows and names do not match ({len(G)} "
                                    f"encodings, {len(person)} owners, {len(names)} names)")
        if expected_dim is not None and dim > 0 and dim != int(expected_dim):
            raise FaceDatabaseError(f"{path}: stores encodings of size {dim}, but the encoder "
                                    f"makes encodings of size {expected_dim}: this database "
                                    "was enrolled with another model; enrol again")
        tau = float(data["threshold"]) if threshold is None else threshold
        db = cls(encoder_fn, tau, dim if dim > 0 else None, json.loads(str(data["meta"])),
                 distance_fn)
        db._names = names
        db._index = {nm: i for i, nm in enumerate(names)}
        db._G = np.ascontiguousarray(G, dtype=np.float32)
        db._G_sq = np.einsum("ij,ij->i", db._G, db._G) if len(G) else np.zeros(0, np.float32)
        db._person = person.astype(np.int64)
        db._n = len(G)
        return db
