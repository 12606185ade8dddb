"""Each datapath method is declared once with typed options; settings are checked by name."""

import pytest
import torch
from test_planted import Planted, images_of

import zoo
from pathlens import Network, PathlensError, extract_datapath
from pathlens.datapath import METHODS, DatapathMethod


@pytest.fixture(scope="module")
def net():
    return Network(zoo.build(zoo.TinyResNet), torch.rand(1, 1, 8, 8))


@pytest.fixture(scope="module")
def images():
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_every_method_is_declared_once_with_typed_options():
    assert list(METHODS) == ["gates", "activation", "gradxact", "conductance", "random", "cdrp"]
    assert ", ".join(METHODS).startswith("gates, activation")
    cuts = {name: spec.cut for name, spec in METHODS.items()}
    assert cuts == {
        "gates": "global",
        "activation": "per_site",
        "gradxact": "per_site",
        "conductance": "per_site",
        "random": "per_site",
        "cdrp": "global",
    }
    for name, spec in METHODS.items():
        assert isinstance(spec, DatapathMethod) and spec.name == name and spec.help
        for option in spec.options:
            assert option.help and isinstance(option.default, option.type)
            # every default passes its own bounds
            assert option.check(option.default, name) == option.default
    assert {o.name for o in METHODS["cdrp"].options} == {"steps", "lr", "gamma"}
    assert {"sparsity", "contrast", "margin", "necessity", "lr", "max_steps"} <= {
        o.name for o in METHODS["gates"].options
    }


def test_a_misspelt_option_is_refused_with_the_close_match(net, images):
    with pytest.raises(PathlensError, match=r"no option 'sparcity'\. Did you mean 'sparsity'\?"):
        extract_datapath(net, images, sparcity=5)
    # an option of another method is unknown to this one, and the valid ones are named
    with pytest.raises(PathlensError, match=r"'activation' has no option 'n_steps'.*: none"):
        extract_datapath(net, images, method="activation", n_steps=4)
    with pytest.raises(PathlensError, match=r"no option 'gama'.*Its options are: steps, lr, gamma"):
        extract_datapath(net, images, method="cdrp", gama=0.1)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sparsity": -1.0}, r"sparsity must be a number >= 0; got -1\.0"),
        ({"sparsity": "high"}, r"sparsity must be a number >= 0; got 'high'"),
        ({"sparsity": float("nan")}, r"sparsity must be a number >= 0; got nan"),
        ({"lr": 0}, r"lr must be a number > 0; got 0"),
        ({"max_steps": 2.5}, r"max_steps must be an integer >= 1; got 2\.5"),
        ({"max_steps": True}, r"max_steps must be an integer >= 1; got True"),
        ({"min_gain": 2.0}, r"min_gain must be a number >= 0 and <= 1"),
    ],
)
def test_a_wrong_type_or_out_of_bounds_value_names_the_option(net, images, settings, message):
    with pytest.raises(PathlensError, match=message):
        extract_datapath(net, images, **settings)


def test_settings_hold_the_checked_values_with_defaults():
    # the planted network, whose datapath is known, so that no fidelity warning is raised
    net = Network(Planted().eval(), images_of(0, 1))
    images, control = images_of(1, 8), torch.cat([images_of(0, 8), images_of(2, 8)])
    datapath = extract_datapath(net, images, method="conductance", control=control, n_steps=4)
    assert datapath.settings == {
        "agreement": 1.0,
        "specificity": 0.9,
        "max_necessity": 0.2,
        "seed": 0,
        "n_steps": 4,
    }
    # an int given for a float option is stored as the float the method ran with
    gates = extract_datapath(net, images, control=control, sparsity=2, max_steps=40)
    defaults = {o.name: o.default for o in METHODS["gates"].options}
    assert gates.settings == {
        "agreement": 1.0,
        "specificity": 0.9,
        "max_necessity": 0.2,
        "seed": 0,
        **defaults,
        "sparsity": 2.0,
        "max_steps": 40,
    }
    assert isinstance(gates.settings["sparsity"], float)
