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

    The message names the dataset, every mirror folder and URL tried (with why it failed) and the config key.
    """

    def __init__(self, name: str, tried: list[str], config_key: str, hint: str = ""):
        super().__init__(name, tried, config_key)
        tried_text = "\n  ".join(self.tried) if self.tried else "nothing"
        message = (f"dataset '{name}' is unavailable; tried:\n  {tried_text}\n"
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
