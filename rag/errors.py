"""Errors a user can cause or fix. Each carries a one-line message meant to be shown as is."""


class RagError(Exception):
    """Base class: ``str(err)`` is a complete, one-line explanation for the user."""


class ConfigError(RagError):
    """A bad setting or argument (an empty question, an unknown model name, ...)."""


class ModelError(RagError):
    """A model file is missing, truncated or fails its checksum."""


class IndexMissingError(RagError):
    """There is no usable index yet."""


class IndexCorruptError(RagError):
    """The index on disk does not match its manifest."""


class IndexMismatchError(RagError):
    """The index was built with other settings (embedding model, chunking) than requested."""


class CorpusError(RagError):
    """The corpus folder is missing or holds nothing that can be indexed."""


class IndexLockedError(RagError):
    """Another rebuild holds the index lock."""


class IndexWriteError(RagError):
    """A rebuild could not write its new version (a full disk, no permission); the old one stays live."""


class BusyError(RagError):
    """The engine is busy with other questions; try again shortly."""


class VectorStoreError(RagError):
    """The vector store (a Milvus server, a Milvus Lite folder) cannot be reached or read."""
