"""Datasets for studies: sources by kind, the split made once, versioned preprocessing recipes.

NumPy, pandas, scikit-learn and SciPy (TensorFlow only inside the image and Keras loaders): must not
import Optuna or the arch, training, storage, search, results or CLI layers.
"""

from ressearch.config.data import BUILTIN_DATASETS, KERAS_DATASETS, SOURCE_KINDS, DataConfig
from ressearch.data.dataset import Dataset, load_dataset
from ressearch.data.recipes import MISSING_CATEGORY, RECIPE_VERSION, apply_preprocessing
from ressearch.data.sources import IMAGE_SUFFIXES

__all__ = [
    "BUILTIN_DATASETS",
    "IMAGE_SUFFIXES",
    "KERAS_DATASETS",
    "MISSING_CATEGORY",
    "RECIPE_VERSION",
    "SOURCE_KINDS",
    "DataConfig",
    "Dataset",
    "apply_preprocessing",
    "load_dataset",
]
