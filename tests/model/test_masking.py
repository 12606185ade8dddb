"""Masking checked numerically against hooks written here, independently of the library."""

import pytest
import torch

import zoo
from pathlens import Network, PathlensError


def zero_by_hand(module, channels, reference=None):
    """A forward hook written without pathlens: zero (or set to reference) given channels."""

    def hook(mod, args, out):
        out = out.clone()
        for c in channels:
            out[:, c] = 0.0 if reference is None else reference[c]
        return out

    return module.register_forward_hook(hook)


@pytest.fixture(scope="module")
def images(test_set):
    return test_set.images[:64]


def test_masking_equals_zeroing_by_hand(resnet_net, images):
    model = resnet_net.model
    modules = dict(model.named_modules())
    removed = {
        "layer1.0.bn2": [1, 5, 7],
        "layer2.0.relu1": [0, 3],
        "layer3.1.bn2": list(range(10, 40)),
    }
    keep = {
        site: [c for c in range(resnet_net.site(site).channels) if c not in gone]
        for site, gone in removed.items()
    }
    handles = [zero_by_hand(modules[s], gone) for s, gone in removed.items()]
    with torch.no_grad():
        expected = model(images)
    for h in handles:
        h.remove()
    with resnet_net.mask(keep), torch.no_grad():
        masked = model(images)
    # Exact on purpose: multiplying by 1 and 0 gives the bits that zeroing by hand gives, and one
    # batch through the same kernels rounds the same way on any machine.
    assert torch.equal(masked, expected)
    with torch.no_grad():
        assert not torch.allclose(model(images), masked)  # the mask had an effect, then left


def test_keeping_every_channel_changes_nothing(resnet_net, images):
    keep_all = {s.name: list(range(s.channels)) for s in resnet_net.sites}
    logits, top1 = resnet_net.predict(images)
    with resnet_net.mask(keep_all):
        masked_logits, masked_top1 = resnet_net.predict(images)
    # exact: multiplying by 1 changes no bit, and both runs use the same batch size
    assert torch.equal(masked_logits, logits)
    assert torch.equal(masked_top1, top1)


def test_mean_ablation_sets_removed_channels_to_reference(resnet_net, images):
    reference = resnet_net.channel_means(images)
    site = "layer2.1.bn2"
    gone = [2, 4, 6]
    keep = [c for c in range(32) if c not in gone]
    module = dict(resnet_net.model.named_modules())[site]
    handle = zero_by_hand(module, gone, reference[site])
    with torch.no_grad():
        expected = resnet_net.model(images)
    handle.remove()
    with resnet_net.mask({site: keep}, ablation="mean", reference=reference), torch.no_grad():
        masked = resnet_net.model(images)
    assert torch.allclose(masked, expected, atol=1e-6)
    # channel means are means over images and positions
    acts = resnet_net.activations(images, sites=[site])[site]
    # Two float32 means of 64 x 7 x 7 values summed in different orders: they differ by about
    # log2(N) * eps * max|x| (pairwise sums); 1e-5 * max|x| is well above that.
    assert torch.allclose(reference[site], acts.mean((0, 2, 3)), rtol=0,
                          atol=1e-5 * acts.abs().max().item())  # fmt: skip


def test_gates_receive_gradients_and_per_image_gates(resnet_net, images):
    gate = torch.full((32,), 0.5, requires_grad=True)
    with resnet_net.gate({"layer2.0.bn2": gate}):
        loss = resnet_net.model(images[:8]).logsumexp(1).sum()
    loss.backward()
    assert gate.grad is not None and gate.grad.abs().sum() > 0
    # a per-image gate [N, C]: image 0 fully kept, image 1 fully removed
    per_image = torch.stack([torch.ones(32), torch.zeros(32)])
    with resnet_net.gate({"layer2.0.bn2": per_image}), torch.no_grad():
        out = resnet_net.model(images[:2])
    # A batch of 2 and a batch of 1 may take differently blocked kernels, so sums of up to
    # 64 x 9 terms per convolution add up in another order: ~1e-6 relative per layer, through
    # a dozen layers; 1e-4 of the largest logit is far above that and far below a real change.
    with torch.no_grad():
        alone = resnet_net.model(images[:1])[0]
        assert torch.allclose(out[0], alone, rtol=0, atol=1e-4 * alone.abs().max().item())
    with resnet_net.mask({"layer2.0.bn2": []}), torch.no_grad():
        alone = resnet_net.model(images[1:2])[0]
        assert torch.allclose(out[1], alone, rtol=0, atol=1e-4 * alone.abs().max().item())


def test_masking_an_inplace_relu_site_and_a_functional_relu_site():
    model = zoo.build(zoo.PlainCNN)  # features.0.1 is ReLU(inplace=True)
    x = torch.rand(3, 1, 8, 8)
    net = Network(model, x)
    handle = zero_by_hand(model.features[0][1], [2])
    with torch.no_grad():
        expected = model(x)
    handle.remove()
    with net.mask({"features.0.1": [0, 1, 3]}), torch.no_grad():
        assert torch.equal(model(x), expected)  # exact: see test_masking_equals_zeroing_by_hand

    fmodel = zoo.build(zoo.FunctionalCNN)  # bn2 stands in for the F.relu after it
    fnet = Network(fmodel, x)
    # masking bn2 equals zeroing the same channel after the functional ReLU
    relu_out = {}

    def forward_with_zeroed_relu(inp):
        h = torch.relu(fmodel.conv1(inp))
        h = torch.relu(fmodel.bn2(fmodel.conv2(h)))
        h[:, 4] = 0
        relu_out["h"] = h
        return fmodel.fc(h.mean((2, 3)))

    with torch.no_grad():
        expected = forward_with_zeroed_relu(x)
        with fnet.mask({"bn2": [0, 1, 2, 3]}):
            assert torch.allclose(fmodel(x), expected, atol=1e-6)


def test_masks_on_a_generator_and_all_sites_at_once():
    model = zoo.build(zoo.Generator)
    z = torch.randn(4, 8)
    net = Network(model, z)
    modules = dict(model.named_modules())
    handles = [
        zero_by_hand(modules["project.1"], range(32, 64)),
        zero_by_hand(modules["up1.2"], [0]),
    ]
    with torch.no_grad():
        expected = model(z)
    for h in handles:
        h.remove()
    with net.mask({"project.1": range(32), "up1.2": range(1, 8)}), torch.no_grad():
        assert torch.equal(model(z), expected)  # exact: same batch, multiplying by 0 and 1
    with pytest.raises(PathlensError, match="predict is for classifiers"):
        net.predict(z)


@pytest.mark.slow
def test_predict_in_batches_matches_one_forward(resnet_net, images):
    logits, top1 = resnet_net.predict(images, batch_size=7)
    with torch.no_grad():
        direct = resnet_net.model(images)
    # batches of 7 against one of 64: other kernel blocking, other summation order (see
    # test_gates_receive_gradients_and_per_image_gates for the size of that)
    scale = direct.abs().max().item()
    assert torch.allclose(logits, direct, rtol=0, atol=1e-4 * scale)
    # top-1 may only differ where the two best logits are within that tolerance
    top2 = direct.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 2e-4 * scale
    assert clear.float().mean() > 0.9
    assert torch.equal(top1[clear], direct.argmax(1)[clear])


def test_boolean_masks(resnet_net, images):
    keep = torch.zeros(16, dtype=torch.bool)
    keep[:8] = True
    with resnet_net.mask({"stem.2": keep}):
        a, _ = resnet_net.predict(images[:4])
    with resnet_net.mask({"stem.2": range(8)}):
        b, _ = resnet_net.predict(images[:4])
    assert torch.equal(a, b)  # the same 0/1 vector either way, the same batch: exact
