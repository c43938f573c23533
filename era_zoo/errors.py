"""The exceptions era_zoo raises. Every message names the file or the field
that is wrong and, where there is one, what the user can do about it."""


class EraZooError(Exception):
    """Base class of every error era_zoo raises on purpose."""


class EraZooWarning(UserWarning):
    """Every warning era_zoo gives on purpose (e.g. a model loaded without
    a pretrained preset); the test suite (pytest.ini) turns it into an error
    unless a test expects it with ``pytest.warns``."""


class DataError(EraZooError, ValueError):
    """A data file (audio, mel, metadata, split list) is missing or wrong."""

    def __init__(self, path, problem, hint=None):
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        msg = f"{self.path}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class AudioError(DataError):
    """An audio file cannot be decoded or is unusable (silent, too short, NaN)."""


class ConfigError(EraZooError, ValueError):
    """A recipe, preset or argument has a wrong or missing field."""

    def __init__(self, field, problem, hint=None):
        self.field = field
        self.problem = problem
        self.hint = hint
        msg = f"{field}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
