"""Training on the catalogue's own labels: recipes, losses, feature cache, model versions.

Importing this package is cheap; torch is imported inside the functions that train or export.

    from productlens.training import TrainConfig, train
    version = train(catalog, TrainConfig(recipe="head"))
"""

from .recipes import RECIPES, Recipe, TrainConfig
from .run import TrainResult, train

__all__ = ["RECIPES", "Recipe", "TrainConfig", "TrainResult", "train"]
