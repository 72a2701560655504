"""Conversions of upstream weight files into the torch state dicts the pipeline loads.

Each converter ``convert(src, out)`` reads the verified upstream bytes at ``src`` and writes the converted file to
``out``; it raises :class:`~srrepro.data.downloads.Rejected` when the input is not what the source promises. Pickles
are read with a restricted unpickler that rebuilds numpy arrays and plain containers only.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from srrepro.data.downloads import Rejected


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and plain containers, and nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an untrusted pickle")
        if name == "_reconstruct":
            from numpy._core import multiarray  # numpy >= 2 location; numpy.core is a deprecated alias

            return multiarray._reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes):
    """Load a pickle that may only contain numpy arrays, dicts, lists and scalars."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def flax_to_torch_convs(params: dict, scope: str, indices: list[int]) -> dict:
    """Flax ``{scope: {Conv_i: {kernel (kh, kw, cin, cout), bias}}}`` → torch ``features.N.weight (cout, cin, kh, kw)``."""
    import torch

    convs = params[scope]
    if len(indices) != sum(1 for key in convs if key.startswith("Conv_")):
        raise Rejected(f"expected {len(indices)} conv layers under {scope}, found keys {sorted(convs)}")
    state = {}
    for i, index in enumerate(indices):
        layer = convs[f"Conv_{i}"]
        kernel = np.asarray(layer["kernel"], dtype=np.float32)
        state[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        state[f"features.{index}.bias"] = torch.from_numpy(np.asarray(layer["bias"], dtype=np.float32).copy())
    return state


def _save_state(state: dict, out: Path) -> None:
    import torch

    torch.save(state, out)


def _convert_flax(scope: str, indices: list[int]) -> Callable[[Path, Path], None]:
    def convert(src: Path, out: Path) -> None:
        try:
            params = load_numpy_pickle(src.read_bytes())
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise Rejected(f"not a flax weight pickle: {err}") from err
        _save_state(flax_to_torch_convs(params, scope, indices), out)

    return convert


def _convert_torchvision_features(src: Path, out: Path) -> None:
    """Keep the ``features.*`` tensors of a torchvision state dict."""
    import torch

    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a non-checkpoint
        raise Rejected(f"not a torch state dict: {err}") from err
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise Rejected("state dict has no features.* tensors")
    _save_state(features, out)


def _convert_niqe_mat(src: Path, out: Path) -> None:
    """MATLAB ``modelparameters.mat`` (mu_prisparam, cov_prisparam) → npz with basicsr's key names."""
    import scipy.io

    mat = scipy.io.loadmat(src)
    np.savez(out, mu_pris_param=np.asarray(mat["mu_prisparam"], dtype=np.float64),
             cov_pris_param=np.asarray(mat["cov_prisparam"], dtype=np.float64))


ALEXNET_CONV_INDICES = [0, 3, 6, 8, 10]
VGG16_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]

CONVERTERS: dict[str, Callable[[Path, Path], None]] = {
    "flax-alexnet": _convert_flax("AlexNet_0", ALEXNET_CONV_INDICES),
    "flax-vgg16": _convert_flax("VGG16_0", VGG16_CONV_INDICES),
    "torchvision-features": _convert_torchvision_features,
    "niqe-mat": _convert_niqe_mat,
}
