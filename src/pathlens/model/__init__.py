"""A PyTorch model as a graph of gating sites that can be masked.

>>> from pathlens.model import Network
>>> net = Network(model, torch.zeros(1, 1, 28, 28))
"""

from pathlens.model._load import (
    LoadedModel,
    is_registered_spec,
    load_model,
    load_weights,
    register_model_prefix,
)
from pathlens.model._network import Network
from pathlens.model._sites import Site

__all__ = [
    "LoadedModel",
    "Network",
    "Site",
    "is_registered_spec",
    "load_model",
    "load_weights",
    "register_model_prefix",
]
