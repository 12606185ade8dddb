"""The public surface, pinned: a name added to or dropped from an `__all__` is a decision.

Changing a list here is fine when the change is meant; say so in the README when users see it.
"""

import importlib

import pytest

PUBLIC = {
    "pathlens": [
        "Datapath", "Fidelity", "LoadedModel", "Network", "PathlensError", "PathlensWarning",
        "Site", "Tracker", "__version__", "extract_datapath", "load_model", "open_run"
    ],
    "pathlens.datapath": [
        "Datapath", "DatapathMethod", "Fidelity", "METHODS", "SCHEMA_VERSION", "SiteComparison",
        "channel_contributions", "compare", "extract_datapath", "list_datapaths", "load_datapath",
        "save_datapath", "target_contributions"
    ],
    "pathlens.attacks": [
        "AdversarialAnalysis", "AttackMethod", "AttackResult", "ErrorChannel", "METHODS", "SETS",
        "attack", "divergence_and_merge", "explain_adversarial", "load_analysis", "neuron_arrays",
        "neuron_view", "progress_to_target", "save_analysis"
    ],
    "pathlens.mechanism": [
        "Bundle", "EdgeBundles", "Mechanism", "ReceptiveField", "SiteClusters", "SiteMechanism",
        "TopPatches", "activation_maps", "activation_maximization", "analyze", "arrange_channels",
        "bundle_edge", "channel_features", "cluster_channels", "cluster_matrices",
        "direct_contributions", "list_mechanisms", "load_mechanism", "mechanism_array",
        "mechanism_summary", "receptive_field", "save_mechanism", "top_patches"
    ],
    "pathlens.model": [
        "LoadedModel", "Network", "Site", "is_registered_spec", "load_model", "load_weights",
        "register_model_prefix",
    ],
    "pathlens.store": [
        "DB_NAME", "RunStore", "SCHEMA_VERSION"
    ],
    "pathlens.training": [
        "ConvVAE", "DCGANDiscriminator", "DCGANGenerator", "NEURON_FLAGS", "RUN_FLAGS", "STATS",
        "Tracker", "TrainingRun", "credit", "dcgan_init", "detect", "explain", "gan_case",
        "open_run", "reduce_series", "sample_polylines", "train_dcgan", "train_vae", "vae_case",
        "worst_neuron"
    ],
    "pathlens.data": [
        "CLASS_NAMES", "Dataset", "class_index", "fashion_mnist", "load_images", "sample_images"
    ],
    "pathlens.demo": [
        "ARCHITECTURES", "BasicBlock", "DemoCNN", "DemoResNet", "MODELS", "class_images", "info",
        "load", "weights_path"
    ],
    "pathlens.server": [
        "RunView", "api_schema", "create_app", "is_loopback", "new_token", "running", "write_report"
    ],
    "pathlens.errors": [
        "NotFoundError", "PathlensError", "PathlensWarning"
    ],
    "pathlens.workflows": [
        "EXPLAIN_STAGES", "EXTRACT_STAGES", "ExplainRequest", "ExplainResult", "ExtractRequest",
        "ExtractResult", "MECHANISM_STAGES", "MechanismRequest", "MechanismResult", "Progress",
        "ProgressEvent", "RequestError", "RunModel", "SUBSET_STAGES", "Stage", "SubsetRequest",
        "SubsetResult", "TRAIN_STAGES", "TrainCaseRequest", "TrainCaseResult", "case_defaults",
        "check_run_model", "datapath_subset", "explain", "extract", "load_run_model", "mechanism",
        "remember_model", "run_model_problem", "train_case"
    ],
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
