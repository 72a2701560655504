"""Exceptions shared across the library, each carrying a message a person can act on."""


class SrreproError(Exception):
    """Base class of all errors raised on purpose by srrepro."""


class ImageReadError(SrreproError):
    """An image file is missing, unreadable or truncated."""


class ConfigError(SrreproError):
    """A configuration value is invalid; the message names the key."""


class AssetUnavailable(SrreproError):
    """An external asset (weights, parameter file) could not be obtained from any source.

    ``reason`` is the short text shown in tables as ``n/a (reason)``.
    """

    def __init__(self, name: str, tried: list[str], config_key: str | None = None):
        self.name = name
        self.tried = list(tried)
        self.config_key = config_key
        hint = f"; supply a local copy with the config key '{config_key}'" if config_key else ""
        tried_text = "; ".join(self.tried) if self.tried else "no source declared"
        super().__init__(f"asset '{name}' is unavailable (tried: {tried_text}){hint}")

    @property
    def reason(self) -> str:
        return f"asset '{self.name}' unavailable"


class DatasetUnavailable(AssetUnavailable):
    """A dataset is in neither the mirror nor the cache and could not be downloaded (or may not be).

    The message is one line: the dataset, every mirror folder and URL tried (with why it failed), the config key
    that supplies it and ``hint`` (its layout, how to allow downloading).
    """

    def __init__(self, name: str, tried: list[str], config_key: str, hint: str = ""):
        super().__init__(name, tried, config_key)
        tried_text = "; ".join(self.tried) if self.tried else "nothing"
        message = (f"dataset '{name}' is unavailable (tried: {tried_text}); "
                   f"supply it with the config key '{config_key}'{hint}")
        self.args = (message,)

    @property
    def reason(self) -> str:
        return f"dataset '{self.name}' unavailable"


class MetricUnavailable(SrreproError):
    """A metric cannot be computed here (e.g. its weights are missing); ``reason`` says why."""

    def __init__(self, metric: str, reason: str):
        self.metric = metric
        self.reason = reason
        super().__init__(f"metric '{metric}' cannot be computed: {reason}")


class CheckpointError(SrreproError):
    """A file is not a valid checkpoint for the requested model."""


class TrainingDiverged(SrreproError):
    """A loss became NaN or infinite during training."""


class RunFolderBusy(SrreproError):
    """A training run folder is owned by another live process."""


class Interrupted(SrreproError):
    """The user interrupted the command (Ctrl-C, SIGINT); the message says how to continue. Exit status 130."""

    exit_status = 130


def format_size(size: int) -> str:
    """Bytes as a person reads them: 512 bytes, 197.1 kB, 3.4 MB, 12.0 GB."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


class DiskFull(SrreproError):
    """A write failed because its file system is full (ENOSPC) or the user's quota is used up (EDQUOT).

    ``needed``: what the file needs, as text ("197.1 kB", or "more than 64.0 kB" when only the part written before
    the failure is known); ``free``: bytes free there after the partial file was removed.
    """

    def __init__(self, path, needed: str, free: int, then: str = "free some space there and run the same command "
                                                                    "again"):
        self.path, self.needed, self.free = path, needed, free
        super().__init__(f"no space left on the device writing {path}: {needed} needed, {format_size(free)} free "
                         f"there; {then}")
