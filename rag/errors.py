"""User-facing errors: the CLI and UI print these as one line, never as a traceback."""


class RagError(Exception):
    """A user-facing error: one line, with a hint."""


class CorpusError(RagError):
    """A corpus file that cannot be read; the message names the file and line."""


class StoreError(RagError):
    """The store is missing, corrupted or from an incompatible version."""


class InputError(RagError):
    """A question or option the user gave is not usable."""


class ModelError(RagError):
    """A model that is missing, corrupted or cannot be loaded; the message says how to reinstall."""
