"""Data sets for the embedded demo: Fashion-MNIST, read without torchvision.

>>> from pathlens.data import fashion_mnist
>>> ds = fashion_mnist("test")
>>> ds.images.shape, ds.labels.shape
(torch.Size([10000, 1, 28, 28]), torch.Size([10000]))
"""

from pathlens.data._fashion_mnist import (
    CLASS_NAMES,
    Dataset,
    class_index,
    fashion_mnist,
    sample_images,
)
from pathlens.data._files import load_images

__all__ = [
    "CLASS_NAMES",
    "Dataset",
    "class_index",
    "fashion_mnist",
    "load_images",
    "sample_images",
]
