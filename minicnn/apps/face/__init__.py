"""Face recognition: learn an encoding f(x), then recognise people from one photo.

==================  =========================================================
``encoder``         ``FaceEncoder``: compact ResNet-style CNN → 128-d unit vector
``database``        ``FaceDatabase``: enrol, verify (1:1), identify (1:K), save/load
``metrics``         ROC, AUC, equal-error rate, choosing the threshold τ
``train``           training the encoder (triplet / contrastive / binary head)
``protocol``        the one-shot protocol on people never seen in training
``plots``           ROC, distance histograms, 2-D map of encodings (PNG)
``cli``             the ``minicnn faces`` sub-commands
==================  =========================================================
"""
from .database import (FaceDatabase, FaceDatabaseError, Identification,  # noqa: F401
                       Verification, squared_distances)
from .images import load_image, prepare_images  # noqa: F401
from .metrics import (accuracy_at, auc, best_threshold, equal_error_rate,  # noqa: F401
                      pair_distances, roc_auc, roc_curve, verification_report)
from .encoder import FaceEncoder  # noqa: F401
from .train import SiameseHead, TrainConfig, train_encoder  # noqa: F401
from .protocol import evaluate_unseen, load_faces, run_protocol, run_split  # noqa: F401
