"""The embedded demo: two small models trained on Fashion-MNIST on first use, then cached.

>>> from pathlens import demo
>>> model = demo.load("resnet")  # trains once (about 1-2 min on 2 cores), then loads the cache
>>> demo.info("resnet")["test_accuracy"]
0.91...
"""

from pathlens.demo._models import ARCHITECTURES, BasicBlock, DemoCNN, DemoResNet
from pathlens.demo._train import MODELS, class_images, info, load, weights_path

__all__ = [
    "ARCHITECTURES",
    "MODELS",
    "BasicBlock",
    "DemoCNN",
    "DemoResNet",
    "class_images",
    "info",
    "load",
    "weights_path",
]
