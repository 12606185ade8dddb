"""pathlens: visual explanations of PyTorch models.

The public API is re-exported here; everything under a leading underscore is private.
"""

from importlib.metadata import PackageNotFoundError, version

from pathlens.datapath import Datapath, Fidelity, extract_datapath
from pathlens.errors import PathlensError, PathlensWarning
from pathlens.model import LoadedModel, Network, Site, load_model
from pathlens.training import Tracker, open_run

try:
    __version__ = version("pathlens")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Datapath",
    "Fidelity",
    "LoadedModel",
    "Network",
    "PathlensError",
    "PathlensWarning",
    "Site",
    "Tracker",
    "__version__",
    "extract_datapath",
    "load_model",
    "open_run",
]
