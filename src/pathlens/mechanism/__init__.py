"""What single channels respond to: receptive fields, top-activating patches, activation maps
and activation-maximisation images.

>>> from pathlens.mechanism import top_patches
>>> top = top_patches(net, "layer1.0.relu1", test_set.images, k=8)
>>> top.patches.shape  # [channels, k, C_in, ph, pw]
torch.Size([16, 8, 1, 5, 5])
"""

from pathlens.mechanism._features import (
    ReceptiveField,
    TopPatches,
    activation_maps,
    activation_maximization,
    receptive_field,
    top_patches,
)

__all__ = [
    "ReceptiveField",
    "TopPatches",
    "activation_maps",
    "activation_maximization",
    "receptive_field",
    "top_patches",
]
