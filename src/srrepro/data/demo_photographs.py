"""The embedded demo's photographs: colour photographs that ship inside the scikit-image wheel (no download).

The split is fixed: the three smallest images by pixel count (ties broken by name) form ``demo_test``
(chelsea, coffee, astronaut), the other six form ``demo_train``. The stereo pair motorcycle_left/right stays
together in training, so no test image has a near-duplicate in training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def loaders() -> dict[str, Callable[[], np.ndarray]]:
    """The colour photographs in the scikit-image wheel that load without a download."""
    from skimage import data

    return {
        "astronaut": data.astronaut,
        "chelsea": data.chelsea,
        "coffee": data.coffee,
        "hubble_deep_field": data.hubble_deep_field,
        "immunohistochemistry": data.immunohistochemistry,
        "motorcycle_left": lambda: data.stereo_motorcycle()[0],
        "motorcycle_right": lambda: data.stereo_motorcycle()[1],
        "retina": data.retina,
        "rocket": data.rocket,
    }


DEMO_TEST = ("astronaut", "chelsea", "coffee")
DEMO_TRAIN = ("hubble_deep_field", "immunohistochemistry", "motorcycle_left", "motorcycle_right", "retina", "rocket")
