"""Datapaths: the fewest channels per site that keep a set of predictions, with fidelity.

>>> from pathlens.datapath import extract_datapath
>>> dp = extract_datapath(net, images, control=other_images)
"""

from pathlens.datapath._codec import list_datapaths, load_datapath, save_datapath
from pathlens.datapath._compare import (
    SiteComparison,
    channel_contributions,
    compare,
    target_contributions,
)
from pathlens.datapath._datapath import SCHEMA_VERSION, Datapath, Fidelity
from pathlens.datapath._extract import extract_datapath
from pathlens.datapath._registry import METHODS, DatapathMethod

__all__ = [
    "METHODS",
    "SCHEMA_VERSION",
    "Datapath",
    "DatapathMethod",
    "Fidelity",
    "SiteComparison",
    "channel_contributions",
    "compare",
    "extract_datapath",
    "list_datapaths",
    "load_datapath",
    "save_datapath",
    "target_contributions",
]
