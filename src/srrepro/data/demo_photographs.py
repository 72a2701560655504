"""The embedded demo's photographs: natural colour photographs that ship inside installed packages (no download).

Test (``demo_test``): astronaut, chelsea, coffee from scikit-image. Training (``demo_train``): rocket and
motorcycle_left from scikit-image, and grace_hopper from matplotlib's sample data. Why these:

* natural colour photographs only, like the DIV2K images the papers train on. The wheels' other images are not natural
  scenes (a deep-field telescope image, a retina, a microscopy slide) or grayscale (camera, brick, grass, ...):
  replicated to three channels, grayscale training images leave the colour mapping unconstrained, and the trained
  models cast the colour test images by up to 48 levels;
* no near-duplicate: motorcycle_right, the stereo partner of motorcycle_left, is left out (it added nothing but
  weight on one scene; 0.3 dB lower PSNR on the test set in the measurement);
* no test image in training.

Licences: scikit-image's data (``skimage/data/README.txt``: astronaut NASA public domain, chelsea and coffee CC0,
rocket public domain, motorcycle from the Middlebury 2014 stereo set for research), matplotlib's grace_hopper (US Navy
photograph, public domain).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return np.asarray(image.convert("RGB"))


def loaders() -> dict[str, Callable[[], np.ndarray]]:
    """The photographs of the demo sets, each loaded from an installed package."""
    from skimage import data

    return {
        "astronaut": data.astronaut,
        "chelsea": data.chelsea,
        "coffee": data.coffee,
        "grace_hopper": _grace_hopper,
        "motorcycle_left": lambda: data.stereo_motorcycle()[0],
        "rocket": data.rocket,
    }


DEMO_TEST = ("astronaut", "chelsea", "coffee")
DEMO_TRAIN = ("grace_hopper", "motorcycle_left", "rocket")
DEMO_TRAIN_SCENES = ("motorcycle_left", "rocket")  # the scene photographs: the demo's stand-in for OST_train
