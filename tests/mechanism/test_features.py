"""Learned features on real models: receptive fields against hand-computed geometry, top patches
against a brute-force search, activation maps and activation maximisation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from pathlens import Network, PathlensError
from pathlens.mechanism import (
    activation_maps,
    activation_maximization,
    receptive_field,
    top_patches,
)


@pytest.fixture(scope="module")
def resnet(resnet_net):  # short names, used by parametrised tests below
    return resnet_net


@pytest.fixture(scope="module")
def cnn(cnn_net):
    return cnn_net


@pytest.fixture(scope="module")
def images(test_set):
    return test_set.images[:200]


def mean_activation(net, site, channel, images):
    return net.activations(images, sites=[site])[site][:, channel].flatten(1).mean(1)


# ---------------------------------------------------------------------------- receptive field
class Geometry(nn.Module):
    """Known geometry: 3x3, then 3x5 (rows x cols), then 3x3 with stride 2, all padded."""

    def __init__(self, size=16):
        super().__init__()
        self.size = size
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, (3, 5), padding=(1, 2))
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.relu3(self.conv3(self.relu2(self.conv2(self.relu1(self.conv1(x))))))
        return self.fc(x.mean((2, 3)))


class FixedSize(Geometry):
    """The same layers, but the model refuses any input size other than its own."""

    def forward(self, x):
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError("wrong input size")
        return super().forward(x)


def geometry_net(cls=Geometry, size=16):
    torch.manual_seed(0)
    return Network(
        cls(size).eval(), torch.zeros(1, 1, size, size), sites=["relu1", "relu2", "relu3"]
    )


def test_receptive_field_matches_hand_computation():
    net = geometry_net()
    # Each 3-tap layer adds 2 pixels, the 5-tap one 4; stride 2 at the last layer. Padding 1
    # (2 for the 5-tap axis) moves the field of position 0 to start before the image.
    expected = {
        "relu1": ((3, 3), (1, 1), (-1, -1)),
        "relu2": ((5, 7), (1, 1), (-2, -3)),
        "relu3": ((7, 9), (2, 2), (-3, -4)),
    }
    for site, (size, stride, offset) in expected.items():
        rf = receptive_field(net, site)
        assert (rf.size, rf.stride, rf.offset, rf.exact) == (size, stride, offset, True), site
    rf = receptive_field(net, "relu3")
    assert rf.grid == (8, 8)
    assert rf.box(0, 0) == (0, 0, 4, 5)  # clipped at the top-left border
    assert rf.box(3, 4) == (3, 4, 10, 13)
    assert rf.box(7, 7) == (11, 10, 16, 16)


def test_receptive_field_larger_than_the_image_is_measured_on_a_larger_input():
    net = geometry_net(size=6)
    rf = receptive_field(net, "relu3")
    assert (rf.size, rf.stride, rf.offset, rf.exact) == ((7, 9), (2, 2), (-3, -4), True)
    assert rf.box(1, 1) == (0, 0, 6, 6)
    # A model that takes only its own input size keeps the clipped measurement and says so.
    fixed = receptive_field(geometry_net(FixedSize, size=6), "relu3")
    assert not fixed.exact
    assert fixed.size[0] < 7 and fixed.size[1] < 9


@pytest.mark.slow
def test_receptive_field_of_demo_models(resnet, cnn):
    stem = receptive_field(resnet, "stem.2")
    assert (stem.size, stem.stride, stem.offset) == ((3, 3), (1, 1), (-1, -1))
    # Stem 3, then each 3x3 conv adds 2 x the stride before it; strides 2, 4, 8 per stage.
    # The field (101 pixels) is far larger than the 28-pixel image.
    deep = receptive_field(resnet, "layer3.1.bn2")
    assert (deep.size, deep.stride, deep.offset, deep.exact) == (
        (101, 101),
        (8, 8),
        (-50, -50),
        True,
    )
    assert deep.grid == (4, 4)
    assert receptive_field(resnet, "layer1.0.relu1").size == (5, 5)
    # Max pooling: 3x3 conv, 2x2 pool, 3x3 conv -> 3 + 1 + 2 * 2 = 8, stride 2.
    pooled = receptive_field(cnn, "stage2.2")
    assert (pooled.size, pooled.stride, pooled.offset) == ((8, 8), (2, 2), (-3, -3))
    # A hidden linear layer sees the whole image.
    head = receptive_field(cnn, "head.2")
    assert (head.size, head.stride, head.grid) == ((28, 28), (28, 28), (1, 1))
    assert head.box(0, 0) == (0, 0, 28, 28)


@pytest.mark.parametrize(
    ("cls", "sizes"),
    [
        # Residual blocks: the sum sees the larger of its two inputs' fields.
        (
            zoo.TinyResNet,
            {"stem.1": 3, "stage.0.relu1": 5, "stage.0.conv2": 7, "stage.1.relu1": 9,
             "stage.1.conv2": 11},
        ),
        # Concatenation: the union of the branches' fields (1x1 and 3x3 branches -> 5).
        (
            zoo.ConcatNet,
            {"stem.1": 3, "inception.b1.1": 3, "inception.b3.1": 5, "inception": 5,
             "dense.act": 7, "dense": 7},
        ),
        (
            zoo.GroupedNet,
            {"stem.1": 3, "grouped.1": 5, "block.expand.2": 5, "block.depthwise.2": 7,
             "block.project.1": 7},
        ),
    ],
)  # fmt: skip
def test_receptive_field_through_residual_and_concatenating_joins(cls, sizes):
    net = Network(zoo.build(cls), torch.zeros(zoo.IMAGE))
    for site, size in sizes.items():
        rf = receptive_field(net, site)
        half = (size - 1) // 2
        assert (rf.size, rf.stride, rf.offset, rf.exact) == (
            (size, size),
            (1, 1),
            (-half, -half),
            True,
        ), site


# ---------------------------------------------------------------------------- top patches
def brute_force_top(net, site, images, k):
    """Per channel: the k images with the highest maximum (ties: lower index first)."""
    acts = net.activations(images, sites=[site])[site]
    flat = acts.flatten(2) if acts.dim() > 2 else acts[:, :, None]
    value, position = flat.max(2)  # [N, C]
    best = []
    for c in range(acts.shape[1]):
        order = sorted(range(len(images)), key=lambda i, c=c: (-value[i, c].item(), i))[:k]
        best.append(order)
    return torch.tensor(best), value, position


def expected_patch(image, box, origin, size):
    top, left, bottom, right = box.tolist()
    row, col = origin.tolist()
    patch = torch.zeros(image.shape[0], *size)
    patch[:, top - row : bottom - row, left - col : right - col] = image[:, top:bottom, left:right]
    return patch


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "site", "patch"),
    [
        ("resnet", "stem.2", 3),
        ("resnet", "layer1.0.relu1", 5),
        ("resnet", "layer2.0.relu1", 21),
        ("resnet", "layer3.1.bn2", 28),  # field larger than the image: the whole image
        ("cnn", "head.2", 28),  # no spatial dimensions
    ],
)
def test_top_patches_equal_brute_force(request, images, model, site, patch):
    net = request.getfixturevalue(model)
    k = 6
    top = top_patches(net, site, images, k=k)
    best, value, position = brute_force_top(net, site, images, k)
    rf = receptive_field(net, site)
    channels = net.site(site).channels
    assert top.site == site and top.channels == list(range(channels))
    assert top.image_index.shape == (channels, k) and top.image_index.dtype == torch.long
    assert top.patches.shape == (channels, k, 1, patch, patch)
    # Exact on purpose: both run the 200 images as one batch through the same kernels, so the
    # values (and so the order of ties) agree bit for bit on any machine.
    assert torch.equal(top.image_index, best)
    index = torch.arange(channels)[:, None]
    assert torch.equal(top.value, value[best, index])
    flat = top.position[..., 0] * rf.grid[1] + top.position[..., 1]
    assert torch.equal(flat, position[best, index])
    for c in range(channels):
        for j in range(k):
            row, col = top.position[c, j].tolist()
            assert tuple(top.box[c, j].tolist()) == rf.box(row, col)
            image = images[top.image_index[c, j]]
            want = expected_patch(image, top.box[c, j], top.origin[c, j], (patch, patch))
            assert torch.equal(top.patches[c, j], want)


def test_top_patch_boxes_follow_the_hand_computed_field(resnet, images):
    # layer1.0.relu1: 5x5 field, stride 2, padding 2 -> rows 2r-2 .. 2r+2.
    top = top_patches(resnet, "layer1.0.relu1", images, channels=[0, 5, 9], k=4)
    row, col = top.position[..., 0], top.position[..., 1]
    field = torch.stack([2 * row - 2, 2 * col - 2, 2 * row + 3, 2 * col + 3], -1)
    assert torch.equal(
        top.box, torch.cat([field[..., :2].clamp(min=0), field[..., 2:].clamp(max=28)], -1)
    )
    assert torch.equal(top.origin, field[..., :2])
    assert top.channels == [0, 5, 9]


@pytest.mark.slow
def test_top_patches_stream_in_batches(resnet, images):
    whole = top_patches(resnet, "layer2.0.relu1", images, k=8)
    streamed = top_patches(resnet, "layer2.0.relu1", images, k=8, batch_size=7)
    # batches of 7 against one of 200: other summation order (see test_activation_maps)
    scale = whole.value.abs().max().item()
    assert torch.allclose(whole.value, streamed.value, rtol=0, atol=1e-5 * scale)
    # Indices may only differ where two images' values are (numerically) tied.
    gaps = (whole.value[:, 1:] - whole.value[:, :-1]).abs()
    tied = torch.zeros_like(whole.value, dtype=torch.bool)
    tied[:, 1:] |= gaps < 2e-5 * scale  # within twice the tolerance above
    tied[:, :-1] |= gaps < 2e-5 * scale
    same = whole.image_index == streamed.image_index
    assert (same | tied).all()
    assert same.float().mean() > 0.9
    for field in ("position", "box", "origin", "patches"):
        a, b = getattr(whole, field), getattr(streamed, field)
        assert torch.equal(a[same], b[same]), field


def test_top_patches_k_larger_than_the_set(resnet, images):
    top = top_patches(resnet, "stem.2", images[:3], channels=[1], k=8)
    assert top.image_index.shape == (1, 3)
    assert sorted(top.image_index[0].tolist()) == [0, 1, 2]


# ---------------------------------------------------------------------------- activation maps
def test_activation_maps(resnet, cnn, images):
    few = images[:10]
    maps = activation_maps(resnet, "stem.2", 4, few)
    assert maps.shape == (10, 28, 28)
    # exact: one batch of 10 through the same kernels either way
    assert torch.equal(maps, resnet.activations(few, sites=["stem.2"])["stem.2"][:, 4])
    # A 7x7 map is upsampled bilinearly: values between the map's own, following its shape.
    raw = resnet.activations(few, sites=["layer2.0.relu1"])["layer2.0.relu1"][:, 3]
    maps = activation_maps(resnet, "layer2.0.relu1", 3, few, batch_size=3)
    assert maps.shape == (10, 28, 28)
    # Batches of 3 against one of 10: the convolutions may be blocked differently, so their sums
    # (up to 32 x 9 terms, six layers deep) add up in another order. That moves a value by a
    # few float32 eps of the largest one (8e-7 on values up to 2.7 was seen); a relative
    # tolerance fails on the many values near 0, so the tolerance is 1e-5 of the largest value.
    tol = 1e-5 * raw.abs().max().item()
    want = F.interpolate(raw[:, None], size=(28, 28), mode="bilinear")[:, 0]
    assert torch.allclose(maps, want, rtol=0, atol=tol)
    assert (maps.amax((1, 2)) <= raw.amax((1, 2)) + tol).all()
    assert (maps.amin((1, 2)) >= raw.amin((1, 2)) - tol).all()
    block_means = F.avg_pool2d(maps[:, None], 4)[:, 0]  # [10, 7, 7], one per map cell
    assert torch.corrcoef(torch.stack([block_means.flatten(), raw.flatten()]))[0, 1] > 0.9
    # A linear site: its value everywhere.
    value = cnn.activations(few, sites=["head.2"])["head.2"][:, 7]
    maps = activation_maps(cnn, "head.2", 7, few)
    assert torch.equal(maps, value[:, None, None].expand(-1, 28, 28))  # one batch: exact


# ---------------------------------------------------------------------------- maximisation
@pytest.mark.slow
def test_activation_maximization_activates_the_channel(resnet, images):
    site, channel = "layer3.1.bn2", 12
    image = activation_maximization(resnet, site, channel, steps=128)
    assert image.shape == (1, 28, 28)
    assert image.min() >= 0 and image.max() <= 1
    start = activation_maximization(resnet, site, channel, steps=0)
    reached = mean_activation(resnet, site, channel, image[None]).item()
    assert reached > mean_activation(resnet, site, channel, images).mean().item() + 1.0
    assert reached > mean_activation(resnet, site, channel, start[None]).item() + 1.0
    again = activation_maximization(resnet, site, channel, steps=128)
    assert torch.equal(image, again)  # seeded, in one process: the same bits
    other = activation_maximization(resnet, site, channel, steps=128, seed=1)
    assert not torch.equal(image, other)


@pytest.mark.slow
def test_activation_maximization_frequency_penalty_smooths(resnet):
    def variation(image):
        return (image.diff(dim=1).abs().mean() + image.diff(dim=2).abs().mean()).item()

    rough = activation_maximization(resnet, "layer2.1.relu1", 3, frequency_penalty=0.0)
    smooth = activation_maximization(resnet, "layer2.1.relu1", 3, frequency_penalty=10.0)
    assert variation(smooth) < variation(rough)


def test_activation_maximization_leaves_the_model_as_it_was():
    model = zoo.build(zoo.PlainCNN).train()
    net = Network(model.eval(), torch.zeros(zoo.IMAGE))
    model.train()  # e.g. called between training steps
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.fc1.weight.requires_grad_(False)  # a frozen layer stays frozen, the rest trainable
    activation_maximization(net, "features.1.2", 2, steps=5)
    receptive_field(net, "features.1.2")
    top_patches(net, "features.1.2", torch.rand(4, *zoo.IMAGE[1:]), k=2)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == [
        name != "fc1.weight" for name, _ in model.named_parameters()
    ]
    # Batch-norm running statistics were not updated by the analysis forwards.
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


# ---------------------------------------------------------------------------- errors
def test_errors_say_what_to_do(resnet, images):
    with pytest.raises(PathlensError, match="no site named 'layer9'"):
        top_patches(resnet, "layer9", images)
    with pytest.raises(PathlensError, match="no site named"):
        receptive_field(resnet, "layer9")
    with pytest.raises(PathlensError, match=r"channels 0\.\.15; .* include 16"):
        top_patches(resnet, "stem.2", images, channels=[0, 16])
    with pytest.raises(PathlensError, match=r"channels 0\.\.15; .* include -1"):
        activation_maps(resnet, "stem.2", -1, images)
    with pytest.raises(PathlensError, match=r"channels 0\.\.63; .* include 64"):
        activation_maximization(resnet, "layer3.1.bn2", 64)
    with pytest.raises(PathlensError, match="k must be a positive"):
        top_patches(resnet, "stem.2", images, k=0)
    with pytest.raises(PathlensError, match="batch_size must be"):
        top_patches(resnet, "stem.2", images, batch_size=0)
    with pytest.raises(PathlensError, match=r"model takes \[N, 1, 28, 28\]"):
        top_patches(resnet, "stem.2", images[:, :, :20])
    with pytest.raises(PathlensError, match="must be a torch.Tensor"):
        activation_maps(resnet, "stem.2", 0, images.numpy())
    with pytest.raises(PathlensError, match="steps must be"):
        activation_maximization(resnet, "stem.2", 0, steps=-1)
    with pytest.raises(PathlensError, match="lr must be positive"):
        activation_maximization(resnet, "stem.2", 0, lr=0)
    generator = Network(zoo.build(zoo.Generator), torch.zeros(1, 8))
    with pytest.raises(PathlensError, match=r"need image inputs \[N, C, H, W\]; this model takes"):
        receptive_field(generator, generator.site_names[-1])
    with pytest.raises(PathlensError, match=r"Top patches need image inputs"):
        top_patches(generator, generator.site_names[-1], torch.zeros(2, 8))
