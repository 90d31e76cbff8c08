"""Applications built on the models: each sub-package is one thing a learner can run.

- :mod:`minicnn.apps.face`: face verification and identification from one photo
  (encoder trained with the triplet loss, face database, one-shot protocol, ``minicnn faces``).
"""
from . import face  # noqa: F401
from . import style  # noqa: F401
