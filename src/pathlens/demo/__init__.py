"""The embedded demo: two small models trained on Fashion-MNIST on first use, then cached.

>>> from pathlens import demo
>>> model = demo.load("resnet")  # trains once (about 1-2 min on 2 cores), then loads the cache
>>> demo.info("resnet")["test_accuracy"]
0.91...
"""

from pathlens.data import CLASS_NAMES
from pathlens.demo._models import ARCHITECTURES, BasicBlock, DemoCNN, DemoResNet
from pathlens.demo._train import MODELS, class_images, info, load, weights_path
from pathlens.model import register_model_prefix


def _build(name: str, *, trained: bool, progress: bool):
    return load(name, progress=progress) if trained else ARCHITECTURES[name]()


register_model_prefix("demo", _build, names=MODELS, classes=CLASS_NAMES)

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
