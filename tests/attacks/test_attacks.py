import pytest
import torch

from pathlens import Network, PathlensError
from pathlens.attacks import METHODS, SETS, AttackMethod, attack

pytestmark = pytest.mark.slow  # each test here takes seconds (models, attacks, servers)


@pytest.fixture(scope="module")
def boots(demo_resnet, test_set):
    with torch.no_grad():
        top1 = demo_resnet(test_set.images[:1000]).argmax(1)
    index = torch.nonzero((test_set.labels[:1000] == 9) & (top1 == 9)).flatten()[:16]
    return test_set.images[index], test_set.labels[index]


def test_targeted_pgd_reaches_the_target_within_eps(resnet_net, demo_resnet, boots):
    images, labels = boots
    result = attack(resnet_net, images, labels, method="pgd", eps=0.1, target=7)
    assert result.success_rate >= 0.9
    assert float(result.linf.max()) <= 0.1 + 1e-5
    assert float(result.images.min()) >= 0.0 and float(result.images.max()) <= 1.0
    with torch.no_grad():  # success, prediction and confidence describe the real model output
        probs = torch.softmax(demo_resnet(result.images), 1)
    assert torch.equal(probs.argmax(1), result.prediction)
    assert torch.equal(result.success, result.prediction == 7)
    assert torch.allclose(probs.max(1).values, result.confidence, atol=1e-5)


def test_untargeted_attacks(resnet_net, boots):
    images, labels = boots
    for method, eps in (("fgsm", 0.15), ("mifgsm", 0.1), ("pgd-l2", 2.0), ("deepfool", 0.0)):
        result = attack(resnet_net, images[:8], labels[:8], method=method, eps=eps)
        assert torch.equal(result.success, result.prediction != labels[:8])
        assert result.success_rate > 0, method
    l2 = attack(resnet_net, images[:8], labels[:8], method="pgd-l2", eps=2.0)
    assert float(l2.l2.max()) <= 2.0 + 1e-4


def test_normalisation_keeps_eps_in_pixel_space(demo_resnet, boots):
    images, labels = boots

    class Normalised(torch.nn.Module):  # expects (x - 0.5) / 0.25
        def __init__(self):
            super().__init__()
            self.inner = demo_resnet

        def forward(self, z):
            return self.inner(z * 0.25 + 0.5)

    result = attack(
        Network(Normalised().eval(), images[:1]), images[:8], labels[:8], "pgd", eps=0.1, target=7,
        normalization=([0.5], [0.25]),
    )  # fmt: skip
    assert float(result.linf.max()) <= 0.1 + 1e-5
    assert result.success_rate >= 0.75


def test_bad_attack_input(resnet_net, boots):
    images, labels = boots
    with pytest.raises(PathlensError, match="Unknown attack"):
        attack(resnet_net, images, labels, method="magic")
    with pytest.raises(PathlensError, match="outside"):
        attack(resnet_net, images * 255, labels)
    with pytest.raises(PathlensError, match="deepfool is untargeted"):
        attack(resnet_net, images, labels, method="deepfool", target=7)
    with pytest.raises(PathlensError, match=r"takes a pathlens Network, not a DemoResNet"):
        attack(resnet_net.model, images, labels)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"eps": 0}, r"eps must be a finite number in \(0, 1\]"),
        ({"eps": float("nan")}, r"eps must be a finite number in \(0, 1\].*got nan"),
        ({"eps": 1.5}, r"eps must be a finite number in \(0, 1\]"),
        ({"method": "pgd-l2", "eps": float("inf")}, r"eps must be a finite number > 0"),
        ({"target": 99}, r"target must be a class index in 0\.\.9; got 99"),
        ({"target": 2.0}, r"target must be a class index"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1; got 0"),
        ({"steps": 0}, r"Attack 'pgd': steps must be an integer >= 1; got 0"),
        ({"method": "fgsm", "steps": 5}, r"Attack 'fgsm' has no option 'steps'.*: none"),
        ({"decy": 0.5, "method": "mifgsm"}, r"no option 'decy'\. Did you mean 'decay'\?"),
    ],
)
def test_attack_arguments_are_checked_by_name(resnet_net, boots, arguments, message):
    images, labels = boots
    with pytest.raises(PathlensError, match=message):
        attack(resnet_net, images[:2], labels[:2], **arguments)


def test_labels_must_be_one_class_per_image(resnet_net, boots):
    images, labels = boots
    with pytest.raises(PathlensError, match=r"labels must be a 1-d tensor of 4 class indices"):
        attack(resnet_net, images[:4], labels[:3])
    with pytest.raises(PathlensError, match=r"class indices in 0\.\.9; got values from 9 to 12"):
        attack(resnet_net, images[:2], torch.tensor([9, 12]))


def test_the_registry_declares_each_attack_once():
    assert list(METHODS) == ["fgsm", "pgd", "pgd-l2", "mifgsm", "cw", "deepfool"]
    assert [n for n, m in METHODS.items() if not m.targeted] == ["deepfool"]
    assert {n: m.norm for n, m in METHODS.items()} == {
        "fgsm": "linf", "pgd": "linf", "pgd-l2": "l2", "mifgsm": "linf", "cw": None,
        "deepfool": None,
    }  # fmt: skip
    for name, spec in METHODS.items():
        assert isinstance(spec, AttackMethod) and spec.name == name and spec.help
        assert spec.check({}) == {o.name: o.default for o in spec.options}
    assert {o.name for o in METHODS["mifgsm"].options} == {"steps", "decay"}
    assert SETS == ("A", "B", "C")


def test_options_reach_the_attack_and_its_result(resnet_net, boots):
    images, labels = boots
    images, labels = images[:4], labels[:4]
    # one momentum step of size eps is exactly one FGSM step: `steps` reached the attack
    one = attack(resnet_net, images, labels, method="mifgsm", eps=0.05, steps=1)
    fgsm = attack(resnet_net, images, labels, method="fgsm", eps=0.05)
    many = attack(resnet_net, images, labels, method="mifgsm", eps=0.05)
    assert one.settings == {"steps": 1, "decay": 1.0} and fgsm.settings == {}
    assert many.settings == {"steps": 20, "decay": 1.0}
    # both are float32 sign steps of the same size from the same image and gradient
    assert torch.allclose(one.images, fgsm.images, atol=1e-6)
    assert not torch.allclose(many.images, fgsm.images, atol=1e-3)
