"""The embedded demo: two small models trained on Fashion-MNIST, their weights shipped.

The weights come from `python -m pathlens.demo` (deterministic training) and are checked
against their recorded sha256 when loaded, so every machine analyses the same models.

>>> from pathlens import demo
>>> model = demo.load("resnet")  # loads the shipped state dict; nothing is trained
>>> demo.info("resnet")["test_accuracy"]
0.91...
"""

from pathlens.data import CLASS_NAMES
from pathlens.demo._models import ARCHITECTURES, BasicBlock, DemoCNN, DemoResNet
from pathlens.demo._weights import MODELS, class_images, info, load, weights_path
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
