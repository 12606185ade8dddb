import torch

from pathlens.data import sample_images


def class_set(net, test_set, cls, n):
    """n test images of class `cls` that the model classifies correctly."""
    _, top1 = net.predict(test_set.images[:2000])
    index = torch.nonzero((test_set.labels[:2000] == cls) & (top1 == cls)).flatten()[:n]
    return test_set.images[index]


def control_for(test_set, cls, n=64):
    return sample_images(test_set, n, exclude=[cls], seed=3)
