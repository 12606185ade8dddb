"""Every error a user can cause gets a PathlensError whose message says what to do."""

import pytest
import torch

import zoo
from pathlens import Network, PathlensError, load_model
from pathlens.model import register_model_prefix


@pytest.fixture(scope="module")
def net():
    return Network(zoo.build(zoo.TinyResNet), torch.rand(1, 1, 8, 8))


def test_example_input_of_the_wrong_shape():
    with pytest.raises(PathlensError, match=r"failed on the example input of shape \(1, 3, 8, 8\)"):
        Network(zoo.build(zoo.TinyResNet), torch.rand(1, 3, 8, 8))


def test_nan_in_example_input_and_in_images(net):
    bad = torch.rand(1, 1, 8, 8)
    bad[0, 0, 1, 1] = float("nan")
    with pytest.raises(PathlensError, match="1 NaN or infinite"):
        Network(zoo.build(zoo.TinyResNet), bad)
    images = torch.rand(4, 1, 8, 8)
    images[2, 0, 0, 0] = float("inf")
    with pytest.raises(PathlensError, match="NaN or infinite"):
        net.predict(images)


def test_images_of_the_wrong_shape_or_type(net):
    with pytest.raises(PathlensError, match=r"takes \[N, 1, 8, 8\]"):
        net.predict(torch.rand(4, 3, 8, 8))
    with pytest.raises(PathlensError, match="empty"):
        net.predict(torch.rand(0, 1, 8, 8))
    with pytest.raises(PathlensError, match="dtype"):
        net.predict(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(PathlensError, match="must be a torch.Tensor"):
        net.predict([[0.0]])


def test_unknown_site_and_bad_channels(net):
    with pytest.raises(PathlensError, match=r"no site named 'stage.0.relu'.*Did you mean"):
        with net.mask({"stage.0.relu": [0]}):
            pass
    with pytest.raises(PathlensError, match=r"must be in 0..3"), net.mask({"stage.0.conv2": [4]}):
        pass
    with pytest.raises(PathlensError, match="needs a reference"):
        with net.mask({"stage.0.conv2": [0]}, ablation="mean"):
            pass
    with pytest.raises(PathlensError, match="Unknown ablation"):
        with net.mask({"stage.0.conv2": [0]}, ablation="blur"):
            pass


def test_site_list_naming_no_module_or_empty():
    model = zoo.build(zoo.TinyResNet)
    with pytest.raises(PathlensError, match=r"no module named 'stage.9'"):
        Network(model, torch.rand(1, 1, 8, 8), sites=["stage.9"])
    with pytest.raises(PathlensError, match="site list is empty"):
        Network(model, torch.rand(1, 1, 8, 8), sites=[])


def test_not_a_module():
    with pytest.raises(PathlensError, match="needs a torch.nn.Module"):
        Network({"weight": torch.zeros(1)}, torch.rand(1, 1, 8, 8))


class Payload:
    pass


def test_model_specs_and_weights_files(tmp_path):
    with pytest.raises(PathlensError, match=r"Unknown model spec 'resnet'.*prefix \(demo:"):
        load_model("resnet")
    with pytest.raises(PathlensError, match="Unknown demo model 'vgg'"):
        load_model("demo:vgg")
    with pytest.raises(PathlensError, match="Could not import"):
        load_model("no_such_package.models:build")
    with pytest.raises(PathlensError, match="has no callable 'nope'"):
        load_model("zoo:nope")
    missing = tmp_path / "missing.pt"
    with pytest.raises(PathlensError, match="does not exist"):
        load_model("zoo:TinyResNet", weights=missing)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(PathlensError, match="not a state dict pathlens can load safely"):
        load_model("zoo:TinyResNet", weights=garbage)

    pickled = tmp_path / "object.pt"  # a pickled object: refused by weights_only=True
    torch.save({"model": Payload()}, pickled)
    with pytest.raises(PathlensError, match="Python objects other than tensors"):
        load_model("zoo:TinyResNet", weights=pickled)
    not_state = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], not_state)
    with pytest.raises(PathlensError, match="not a state dict"):
        load_model("zoo:TinyResNet", weights=not_state)
    other = tmp_path / "other.pt"
    torch.save(zoo.build(zoo.PlainCNN).state_dict(), other)
    with pytest.raises(PathlensError, match="do not fit the model: missing: .*unexpected"):
        load_model("zoo:TinyResNet", weights=other)


def test_weights_from_a_factory_spec_round_trip(tmp_path):
    source = zoo.build(zoo.TinyResNet)
    path = tmp_path / "w.pt"
    torch.save({"state_dict": source.state_dict()}, path)  # a checkpoint holding a state dict
    loaded = load_model("zoo:TinyResNet", weights=path, input_shape=(1, 8, 8))
    assert loaded.example_input.shape == (1, 1, 8, 8)
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), source(x))


def test_a_registered_prefix_builds_its_models(tmp_path):
    built = []

    def build(name, *, trained, progress):
        built.append((name, trained, progress))
        return zoo.build(getattr(zoo, name))

    register_model_prefix("zootest", build, names=("TinyResNet",), classes=("a", "b", "c"))
    loaded = load_model("zootest:TinyResNet", input_shape=(1, 8, 8), progress=False)
    assert built == [("TinyResNet", True, False)]
    assert loaded.classes == ("a", "b", "c") and not loaded.model.training
    path = tmp_path / "w.pt"
    torch.save(zoo.build(zoo.TinyResNet).state_dict(), path)
    load_model("zootest:TinyResNet", weights=path)  # with a weights file: built untrained
    assert built[-1] == ("TinyResNet", False, True)
    with pytest.raises(PathlensError, match=r"Unknown zootest model 'Tiny'.*zootest:TinyResNet"):
        load_model("zootest:Tiny")
    # a failed import names the registered prefixes, the new one among them
    with pytest.raises(PathlensError, match=r"registered prefix \(demo:, zootest:\)"):
        load_model("zootset:TinyResNet")
    with pytest.raises(PathlensError, match="must be a Python identifier"):
        register_model_prefix("my models", build)


def test_the_model_package_imports_neither_the_demo_nor_the_data():
    """`demo:` is registered by the demo package itself: model/ depends on neither."""
    from pathlib import Path

    import pathlens.model

    source = "\n".join(p.read_text() for p in Path(pathlens.model.__file__).parent.glob("*.py"))
    forbidden = [
        f"{how}{package}"
        for package in ("demo", "data")
        for how in ("import pathlens.", "from pathlens.", "from pathlens import ")
    ]
    assert [f for f in forbidden if f in source] == []
