"""The arithmetic a training run uses: ``train.amp`` fp32, bf16 or auto, and the channels_last memory format.

``auto`` is bf16 autocast with channels_last where the device computes bf16 natively (a CUDA GPU that supports it;
a CPU with AVX512-BF16 or AMX-BF16 instructions), else fp32 with channels_last as configured. On such CPUs it trains
the demo's networks 1.4-1.7 times faster (docs/demo.md gives the measurement and what it does to the results). The
papers trained in fp32, so the paper configuration keeps fp32; evaluation is fp32 unless asked otherwise.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_bf16_flags() -> tuple[str, ...]:
    """The CPU's native bf16 instruction sets (from /proc/cpuinfo; none where that file does not exist)."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return ()
    return tuple(flag for flag in NATIVE_BF16_CPU_FLAGS if flag in flags)


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bf16 natively, and why (for the manifest)."""
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
        return supported, f"CUDA device {torch.cuda.get_device_name(device)}: bf16 {'supported' if supported else 'not supported'}"
    flags = cpu_bf16_flags()
    return bool(flags), f"CPU {'with ' + ', '.join(flags) if flags else 'without AVX512-BF16 or AMX-BF16'}"


def resolve_precision(train: dict, device: torch.device) -> tuple[dict, dict]:
    """``train`` with ``amp`` and ``channels_last`` decided for ``device``, and the record of the decision."""
    if train["amp"] != "auto":
        return train, {"amp": train["amp"], "channels_last": train["channels_last"], "chosen": "as configured"}
    native, why = native_bf16(device)
    amp, channels_last = ("bf16", True) if native else ("fp32", train["channels_last"])
    return {**train, "amp": amp, "channels_last": channels_last}, {"amp": amp, "channels_last": channels_last,
                                                                   "chosen": f"auto: {why}"}
