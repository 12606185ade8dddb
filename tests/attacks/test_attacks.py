import pytest
import torch

from pathlens import PathlensError
from pathlens.attacks import attack

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def boots(demo_resnet, test_set):
    with torch.no_grad():
        top1 = demo_resnet(test_set.images[:1000]).argmax(1)
    index = torch.nonzero((test_set.labels[:1000] == 9) & (top1 == 9)).flatten()[:16]
    return test_set.images[index], test_set.labels[index]


def test_targeted_pgd_reaches_the_target_within_eps(demo_resnet, boots):
    images, labels = boots
    result = attack(demo_resnet, images, labels, method="pgd", eps=0.1, target=7)
    assert result.success_rate >= 0.9
    assert float(result.linf.max()) <= 0.1 + 1e-5
    assert float(result.images.min()) >= 0.0 and float(result.images.max()) <= 1.0
    with torch.no_grad():  # success, prediction and confidence describe the real model output
        probs = torch.softmax(demo_resnet(result.images), 1)
    assert torch.equal(probs.argmax(1), result.prediction)
    assert torch.equal(result.success, result.prediction == 7)
    assert torch.allclose(probs.max(1).values, result.confidence, atol=1e-5)


def test_untargeted_attacks(demo_resnet, boots):
    images, labels = boots
    for method, eps in (("fgsm", 0.15), ("mifgsm", 0.1), ("pgd-l2", 2.0), ("deepfool", 0.0)):
        result = attack(demo_resnet, images[:8], labels[:8], method=method, eps=eps)
        assert torch.equal(result.success, result.prediction != labels[:8])
        assert result.success_rate > 0, method
    l2 = attack(demo_resnet, images[:8], labels[:8], method="pgd-l2", eps=2.0)
    assert float(l2.l2.max()) <= 2.0 + 1e-4


def test_normalisation_keeps_eps_in_pixel_space(demo_resnet, boots):
    images, labels = boots

    class Normalised(torch.nn.Module):  # expects (x - 0.5) / 0.25
        def forward(self, z):
            return demo_resnet(z * 0.25 + 0.5)

    result = attack(
        Normalised(), images[:8], labels[:8], "pgd", eps=0.1, target=7,
        normalization=([0.5], [0.25]),
    )  # fmt: skip
    assert float(result.linf.max()) <= 0.1 + 1e-5
    assert result.success_rate >= 0.75


def test_bad_attack_input(demo_resnet, boots):
    images, labels = boots
    with pytest.raises(PathlensError, match="Unknown attack"):
        attack(demo_resnet, images, labels, method="magic")
    with pytest.raises(PathlensError, match="outside"):
        attack(demo_resnet, images * 255, labels)
    with pytest.raises(PathlensError, match="untargeted"):
        attack(demo_resnet, images, labels, method="deepfool", target=7)
    with pytest.raises(PathlensError, match="eps must be positive"):
        attack(demo_resnet, images, labels, eps=0)
