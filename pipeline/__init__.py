"""gtq: ground truth and annotation quality for Label Studio and Scout exports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gtq")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
