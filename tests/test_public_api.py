"""The public surface, pinned: a name added to or dropped from an `__all__` is a decision.

Changing a list here is fine when the change is meant; say so in the README when users see it.
"""

import importlib

import pytest

PUBLIC = {
    "pathlens": [
        "Datapath", "Fidelity", "LoadedModel", "Network", "PathlensError", "PathlensWarning",
        "Site", "Tracker", "__version__", "extract_datapath", "load_model", "open_run",
    ],
    "pathlens.datapath": [
        "METHODS", "SCHEMA_VERSION", "Datapath", "DatapathMethod", "Fidelity", "SiteComparison",
        "channel_contributions", "compare", "extract_datapath", "target_contributions",
    ],
    "pathlens.attacks": [
        "METHODS", "SETS", "AdversarialAnalysis", "AttackMethod", "AttackResult", "ErrorChannel",
        "attack", "divergence_and_merge", "explain_adversarial", "neuron_arrays", "neuron_view",
        "progress_to_target",
    ],
    "pathlens.mechanism": [
        "Bundle", "EdgeBundles", "Mechanism", "ReceptiveField", "SiteClusters", "SiteMechanism",
        "TopPatches", "activation_maps", "activation_maximization", "analyze", "bundle_edge",
        "channel_features", "cluster_channels", "cluster_matrices", "direct_contributions",
        "receptive_field", "top_patches",
    ],
    "pathlens.model": [
        "LoadedModel", "Network", "Site", "load_model", "load_weights", "register_model_prefix",
    ],
    "pathlens.store": [
        "DB_NAME", "SCHEMA_VERSION", "RunModel", "RunStore", "load_run_model", "remember_model",
    ],
    "pathlens.training": [
        "NEURON_FLAGS", "RUN_FLAGS", "STATS", "ConvVAE", "DCGANDiscriminator", "DCGANGenerator",
        "Tracker", "TrainingRun", "credit", "dcgan_init", "detect", "explain", "gan_case",
        "open_run", "reduce_series", "sample_polylines", "train_dcgan", "train_vae", "vae_case",
        "worst_neuron",
    ],
    "pathlens.data": [
        "CLASS_NAMES", "Dataset", "class_index", "fashion_mnist", "load_images", "sample_images",
    ],
    "pathlens.demo": [
        "ARCHITECTURES", "MODELS", "BasicBlock", "DemoCNN", "DemoResNet", "class_images", "info",
        "load", "weights_path",
    ],
    "pathlens.server": [
        "RunView", "create_app", "is_loopback", "new_token", "running", "write_report",
    ],
    "pathlens.errors": ["NotFoundError", "PathlensError", "PathlensWarning"],
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_each_package_exports_exactly_its_pinned_names(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])
    assert len(set(module.__all__)) == len(module.__all__)  # no name listed twice
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_no_private_name_is_public():
    for package, names in PUBLIC.items():
        assert [n for n in names if n.startswith("_") and n != "__version__"] == [], package
