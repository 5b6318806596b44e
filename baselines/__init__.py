"""Shallow baselines of the paper (OC-SVM, KDE) with one estimator API.

Both follow Deep SVDD's recipe (GCN-L1, min-max, PCA 95%, fit on training images only) and
score "higher = more anomalous"::

    from baselines import OCSVM, KDE
    scores = OCSVM().fit(train_images).score(test_images)
"""

from baselines.base import holdout_split
from baselines.kde import KDE
from baselines.ocsvm import OCSVM

__all__ = ["KDE", "OCSVM", "holdout_split"]
