"""How a network works: what single channels respond to (receptive fields, top-activating
patches, activation maps, activation-maximisation images) and, over a data set, channel
clusters per site with bundled connections between them (`analyze`).

>>> from pathlens.mechanism import analyze, top_patches
>>> top = top_patches(net, "layer1.0.relu1", test_set.images, k=8)
>>> top.patches.shape  # [channels, k, C_in, ph, pw]
torch.Size([16, 8, 1, 5, 5])
>>> result = analyze(net, test_set.images, test_set.labels, classes=test_set.classes)
>>> result.site("layer2.0.relu1").n_clusters
3
"""

from pathlens.mechanism._analyze import Mechanism, SiteMechanism, analyze
from pathlens.mechanism._bundle import Bundle, EdgeBundles, bundle_edge, cluster_matrices
from pathlens.mechanism._cluster import SiteClusters, channel_features, cluster_channels
from pathlens.mechanism._codec import (
    list_mechanisms,
    load_mechanism,
    mechanism_array,
    mechanism_summary,
    save_mechanism,
)
from pathlens.mechanism._contributions import direct_contributions
from pathlens.mechanism._features import (
    ReceptiveField,
    TopPatches,
    activation_maps,
    activation_maximization,
    receptive_field,
    top_patches,
)
from pathlens.mechanism._ordering import arrange_channels

__all__ = [
    "Bundle",
    "EdgeBundles",
    "Mechanism",
    "ReceptiveField",
    "SiteClusters",
    "SiteMechanism",
    "TopPatches",
    "activation_maps",
    "activation_maximization",
    "analyze",
    "arrange_channels",
    "bundle_edge",
    "channel_features",
    "cluster_channels",
    "cluster_matrices",
    "direct_contributions",
    "list_mechanisms",
    "load_mechanism",
    "mechanism_array",
    "mechanism_summary",
    "receptive_field",
    "save_mechanism",
    "top_patches",
]
