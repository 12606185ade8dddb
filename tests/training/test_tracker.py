"""pathlens.Tracker and pathlens.open_run on real models and real run folders."""

import copy
import math

import numpy as np
import pytest
import torch
from tracker_worker import SmallCNN, train_step

import pathlens
from pathlens import PathlensError, PathlensWarning, Tracker, open_run
from pathlens.errors import NotFoundError
from pathlens.training import STATS, DCGANDiscriminator, DCGANGenerator, train_dcgan


def batch(seed: int, n: int = 32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 12, 12, generator=g), torch.randint(0, 3, (n,), generator=g)


def direct_activation_stats(model, probe, names):
    """Per-channel mean and population std of each named module's output, in eval mode."""
    out = {}
    hooks = [
        dict(model.named_modules())[n].register_forward_hook(
            lambda m, a, o, n=n: out.__setitem__(n, o.detach())
        )
        for n in names
    ]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(probe)
    model.train(was)
    for h in hooks:
        h.remove()
    stats = {}
    for n, a in out.items():
        dims = (0, *range(2, a.dim()))
        stats[n] = (a.mean(dim=dims), a.std(dim=dims, correction=0))
    return stats


def channel_norm(weight, bias=None):
    squares = weight.reshape(weight.shape[0], -1).pow(2).sum(1)
    if bias is not None:
        squares = squares + bias.pow(2)
    return squares.sqrt()


# ------------------------------------------------------------------------ values
@pytest.mark.slow
def test_recorded_values_equal_a_direct_computation(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    probe = torch.randn(8, 1, 12, 12)
    weights = {"relu1": "conv1", "relu2": "conv2", "relu3": "fc1"}
    layers = dict(model.named_modules())

    def params(layer):
        m = layers[layer]
        return m.weight.detach().clone(), m.bias.detach().clone()

    previous = {w: params(w) for w in weights.values()}
    expected = []
    # chunk=2: the three snapshots span two chunks, so growing the arrays is covered too
    with Tracker(model, tmp_path / "run", every=2, probe=probe, chunk=2) as tracker:
        assert tracker.sites == ["relu1", "relu2", "relu3"]
        for step in range(5):
            loss = train_step(model, opt, *batch(step))
            tracker.step(loss=loss, double=2 * loss)
            if step % 2:
                continue
            acts = direct_activation_stats(model, probe, list(weights))
            row = {}
            for site, layer in weights.items():
                m = layers[layer]
                w, b = params(layer)
                row[site] = {
                    "act_mean": acts[site][0],
                    "act_std": acts[site][1],
                    "weight_norm": channel_norm(w, b),
                    "grad_norm": channel_norm(m.weight.grad, m.bias.grad),
                    "update_norm": channel_norm(w - previous[layer][0], b - previous[layer][1]),
                }
                previous[layer] = (w, b)
            expected.append(row)

    run = open_run(tmp_path / "run")
    assert run.sites() == ["relu1", "relu2", "relu3"]
    assert run.stats() == list(STATS)
    np.testing.assert_array_equal(run.snapshots(), [0, 2, 4])
    assert run.scalar_names() == ["double", "loss"]
    steps, losses = run.scalars("loss")
    np.testing.assert_array_equal(steps, np.arange(5))
    np.testing.assert_allclose(run.scalars("double")[1], 2 * losses)
    assert run.site_info("relu1")["weights"] == "conv1"
    assert run.site_info("relu3")["channels"] == 10
    for site in weights:
        for stat in STATS:
            series = run.neuron_series(site, stat)
            assert series.shape == (3, run.site_info(site)["channels"])
            assert series.dtype == np.float32
            want = np.stack([row[site][stat].numpy() for row in expected])
            # The same float32 values reduced by another routine (std_mean against mean and
            # std, norms of slices against norms of rows): a few eps apart, relative to the
            # values; atol for the statistics that are near 0.
            np.testing.assert_allclose(series, want, rtol=2e-5, atol=1e-6, err_msg=f"{site} {stat}")
    # the recorded series are not trivially equal across snapshots: training moved them
    assert not np.allclose(run.neuron_series("relu2", "act_mean")[0],
                           run.neuron_series("relu2", "act_mean")[2])  # fmt: skip
    np.testing.assert_array_equal(run.neuron_series("relu1", "act_mean", start=1),
                                  run.neuron_series("relu1", "act_mean")[1:])  # fmt: skip
    assert run.status()["status"] == "finished"
    assert run.models()["model"]["network"]["sites"][0]["name"] == "relu1"
    run.close()


@pytest.mark.slow
def test_dict_of_models_records_generator_and_discriminator(tmp_path):
    torch.manual_seed(0)
    G, D = DCGANGenerator(nz=8, width=8), DCGANDiscriminator(width=8)
    images = torch.rand(256, 1, 28, 28) * 2 - 1
    z = torch.randn(16, 8, 1, 1)
    probes = {"generator": z, "discriminator": images[:16]}
    with Tracker({"generator": G, "discriminator": D}, tmp_path / "gan", every=2,
                 probe=probes) as tracker:  # fmt: skip
        history = train_dcgan(G, D, images, steps=3, batch_size=16, tracker=tracker)

    run = open_run(tmp_path / "gan")
    assert run.sites() == [
        "generator/main.2",
        "generator/main.5",
        "discriminator/main.1",
        "discriminator/main.4",
    ]
    assert set(run.models()) == {"generator", "discriminator"}
    assert run.models()["generator"]["probe_shape"] == [16, 8, 1, 1]
    np.testing.assert_array_equal(run.snapshots(), [0, 2])
    np.testing.assert_allclose(run.scalars("loss_g")[1], history["loss_g"])
    # the last snapshot (step 2) is the final state of both models; tolerances as in
    # test_recorded_values_equal_a_direct_computation (scalars are exact: float64 both ways)
    acts = direct_activation_stats(G, z, ["main.2"])
    np.testing.assert_allclose(run.neuron_series("generator/main.2", "act_mean")[-1],
                               acts["main.2"][0].numpy(), rtol=2e-5, atol=1e-6)  # fmt: skip
    # a transposed convolution's output channel is dim 1 of its weight
    w = G.main[0].weight.detach()
    np.testing.assert_allclose(run.neuron_series("generator/main.2", "weight_norm")[-1],
                               w.transpose(0, 1).reshape(16, -1).norm(dim=1).numpy(),
                               rtol=2e-5)  # fmt: skip
    conv = D.main[0]
    np.testing.assert_allclose(run.neuron_series("discriminator/main.1", "grad_norm")[-1],
                               channel_norm(conv.weight.grad, conv.bias.grad).numpy(),
                               rtol=2e-5)  # fmt: skip
    acts = direct_activation_stats(D, images[:16], ["main.4"])
    np.testing.assert_allclose(run.neuron_series("discriminator/main.4", "act_std")[-1],
                               acts["main.4"][1].numpy(), rtol=2e-5, atol=1e-6)  # fmt: skip
    for site in run.sites():
        for stat in STATS:
            assert np.isfinite(run.neuron_series(site, stat)).all(), (site, stat)


def test_one_probe_for_a_dict_of_models_that_all_accept_it(tmp_path):
    torch.manual_seed(0)
    a, b = SmallCNN(), SmallCNN()
    with Tracker({"a": a, "b": b}, tmp_path / "run", probe=torch.randn(4, 1, 12, 12)) as t:
        t.step()
    run = open_run(tmp_path / "run")
    assert run.sites() == ["a/relu1", "a/relu2", "a/relu3", "b/relu1", "b/relu2", "b/relu3"]
    assert not np.allclose(run.neuron_series("a/relu3", "act_mean"),
                           run.neuron_series("b/relu3", "act_mean"))  # fmt: skip


# ------------------------------------------------------------------------ no side effects
def train(model, steps, tracker=None):
    """A loop that draws its data from the global RNG and uses dropout and batch norm."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x = torch.randn(16, 1, 12, 12)
        y = torch.randint(0, 3, (16,))
        loss = train_step(model, opt, x, y)
        if tracker is not None:
            tracker.step(loss=loss)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("probe_mode", ["eval", "train"])
def test_tracking_does_not_change_training(tmp_path, probe_mode):
    torch.manual_seed(1)
    start = SmallCNN()
    probe = torch.randn(8, 1, 12, 12)
    # Negative control: a forward of the probe in train mode does move the running stats and
    # a dropout draw does advance the RNG, so a tracker that failed to restore them would show.
    control = copy.deepcopy(start).train()
    rng = torch.get_rng_state()
    with torch.no_grad():
        control(probe)
    assert not torch.equal(control.bn1.running_mean, start.bn1.running_mean)
    assert not torch.equal(torch.get_rng_state(), rng)

    torch.manual_seed(2)
    plain = train(copy.deepcopy(start), 7)
    plain_rng = torch.get_rng_state()

    torch.manual_seed(2)
    tracked = copy.deepcopy(start)
    with Tracker(tracked, tmp_path / "run", every=2, probe=probe, probe_mode=probe_mode) as t:
        train(tracked, 7, t)
    assert t.snapshots == 4
    assert torch.equal(torch.get_rng_state(), plain_rng)
    assert tracked.training and all(m.training for m in tracked.modules())
    plain_state, tracked_state = plain.state_dict(), tracked.state_dict()
    assert plain_state.keys() == tracked_state.keys()
    for key in plain_state:
        assert torch.equal(plain_state[key], tracked_state[key]), key


def test_modules_left_in_eval_stay_in_eval(tmp_path):
    model = SmallCNN().train()
    model.bn1.eval()  # a frozen batch norm, as in fine-tuning
    with Tracker(model, tmp_path / "run", every=1, probe=torch.randn(4, 1, 12, 12)) as t:
        t.step()
    assert model.training and model.relu1.training and not model.bn1.training


# ------------------------------------------------------------------------ inputs
def test_bad_arguments_give_clear_errors(tmp_path):
    model = SmallCNN()
    probe = torch.randn(4, 1, 12, 12)
    where = tmp_path / "run"
    for every in (0, -5, 2.5, True, "50"):
        with pytest.raises(PathlensError, match="every must be a whole number"):
            Tracker(model, where, every=every, probe=probe)
    with pytest.raises(PathlensError, match="needs a probe"):
        Tracker(model, where, probe=None)
    with pytest.raises(PathlensError, match="must be a torch.Tensor"):
        Tracker(model, where, probe=[[0.0]])
    with pytest.raises(PathlensError, match=r"probe \(shape \(4, 3, 12, 12\)\) does not fit"):
        Tracker(model, where, probe=torch.randn(4, 3, 12, 12))  # 3 channels, model takes 1
    with pytest.raises(PathlensError, match=r"probe \(shape \(4, 1, 20, 20\)\) does not fit"):
        Tracker(model, where, probe=torch.randn(4, 1, 20, 20))  # fc1 expects 12x12 inputs
    nan_in_last = probe.clone()
    nan_in_last[-1, 0, 0, 0] = float("nan")
    with pytest.raises(PathlensError, match="NaN"):
        Tracker(model, where, probe=nan_in_last)
    with pytest.raises(PathlensError, match="is empty"):
        Tracker(model, where, probe=probe[:0])
    with pytest.raises(PathlensError, match="probe_mode"):
        Tracker(model, where, probe=probe, probe_mode="training")
    with pytest.raises(PathlensError, match="nn.Module or a dict"):
        Tracker([model], where, probe=probe)
    with pytest.raises(PathlensError, match="empty dict"):
        Tracker({}, where, probe=probe)
    with pytest.raises(PathlensError, match="without '/'"):
        Tracker({"a/b": model}, where, probe=probe)
    assert not where.exists()  # nothing is created for a refused tracker

    G, D = DCGANGenerator(nz=8, width=8), DCGANDiscriminator(width=8)
    with pytest.raises(PathlensError, match="probe for model 'generator' .*one probe per model"):
        Tracker({"generator": G, "discriminator": D}, where, probe=torch.randn(4, 1, 28, 28))
    with pytest.raises(PathlensError, match=r"missing: \['discriminator'\]"):
        Tracker({"generator": G, "discriminator": D}, where,
                probe={"generator": torch.randn(4, 8, 1, 1)})  # fmt: skip

    a_file = tmp_path / "file.txt"
    a_file.write_text("not a run")
    with pytest.raises(PathlensError, match="is a file"):
        Tracker(model, a_file, probe=probe)

    with Tracker(model, where, probe=probe) as tracker:
        tracker.step(loss=1.0)
    with pytest.raises(PathlensError, match="already holds a training run"):
        Tracker(model, where, probe=probe)
    with pytest.raises(PathlensError, match="closed"):
        tracker.step(loss=1.0)


def test_scalars_must_be_numbers_and_nan_is_kept_and_flagged(tmp_path):
    with Tracker(SmallCNN(), tmp_path / "run", every=10,
                 probe=torch.randn(4, 1, 12, 12)) as tracker:  # fmt: skip
        tracker.step(loss=torch.tensor(0.5), acc=np.float32(0.25), ok=True)
        for bad in ("low", torch.ones(2), None, 1 + 2j):
            with pytest.raises(PathlensError, match="scalar 'loss'"):
                tracker.step(loss=bad)
        assert tracker.steps == 1  # a refused call records nothing
        with pytest.warns(PathlensWarning, match="'loss' is nan at step 1"):
            tracker.step(loss=float("nan"))
        with pytest.warns(PathlensWarning, match="'grad' is inf"):
            tracker.step(loss=float("nan"), grad=math.inf)
        tracker.step(loss=2.0, grad=-math.inf)  # warned once per name: no new warning

    run = open_run(tmp_path / "run")
    steps, loss = run.scalars("loss")
    np.testing.assert_array_equal(steps, [0, 1, 2, 3])
    np.testing.assert_array_equal(loss, [0.5, np.nan, np.nan, 2.0])
    np.testing.assert_array_equal(run.scalars("grad")[1], [math.inf, -math.inf])
    assert run.scalars("acc")[1].tolist() == [0.25]
    assert run.scalars("ok")[1].tolist() == [1.0]


def test_open_run_errors(tmp_path):
    with pytest.raises(PathlensError, match="no run folder"):
        open_run(tmp_path / "missing")
    from pathlens.store import RunStore

    with RunStore(tmp_path / "other"):
        pass
    with pytest.raises(PathlensError, match="holds no training records"):
        open_run(tmp_path / "other")
    with Tracker(SmallCNN(), tmp_path / "run", probe=torch.randn(4, 1, 12, 12)) as tracker:
        tracker.step(loss=1.0)
    run = open_run(tmp_path / "run")
    with pytest.raises(NotFoundError, match="Did you mean 'relu2'"):
        run.neuron_series("relu_2", "act_mean")
    with pytest.raises(NotFoundError, match="statistic named 'mean'"):
        run.neuron_series("relu2", "mean")
    with pytest.raises(NotFoundError, match="scalar named 'los'"):
        run.scalars("los")
    assert run.neuron_series("relu2", "act_mean", start=5).shape == (0, 6)


def test_public_names():
    assert pathlens.Tracker is Tracker and pathlens.open_run is open_run


def test_arrays_are_plain_zarr_chunked_along_snapshots(tmp_path):
    import zarr

    with Tracker(SmallCNN(), tmp_path / "run", every=1, probe=torch.randn(4, 1, 12, 12),
                 chunk=3) as tracker:  # fmt: skip
        for _ in range(4):
            tracker.step()
    array = zarr.open_array(tmp_path / "run" / "arrays.zarr", path="training/relu2/act_std")
    assert array.chunks == (3, 6) and array.dtype == np.float32
    assert array.shape == (6, 6)  # grown a chunk at a time; readers slice to the 4 committed
    np.testing.assert_array_equal(
        array[:4], open_run(tmp_path / "run").neuron_series("relu2", "act_std")
    )
    assert np.isnan(array[4:]).all()


def test_a_run_folder_from_before_the_training_tables_takes_a_training_run(tmp_path):
    import sqlite3

    from pathlens.store._run import _MIGRATIONS

    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "run.sqlite")
    db.executescript(
        "CREATE TABLE schema_version (version INTEGER);"
        "INSERT INTO schema_version VALUES (4);" + "".join(_MIGRATIONS[:4])
    )
    db.commit()
    db.close()
    with Tracker(SmallCNN(), folder, probe=torch.randn(4, 1, 12, 12)) as tracker:
        tracker.step(loss=0.5)
    assert open_run(folder).scalars("loss")[1].tolist() == [0.5]
