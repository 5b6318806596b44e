"""Deep SVDD (Ruff et al., ICML 2018) run live: LeNet-type networks, pre-training, training.

>>> from baselines.deep_svdd import DeepSVDD, RECIPES
>>> RECIPES["mnist"].epochs, RECIPES["mnist"].pretrain_epochs
(150, 150)
"""

from baselines.deep_svdd.model import RECIPES, DeepSVDD, Recipe

__all__ = ["RECIPES", "DeepSVDD", "Recipe"]
