from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = 1


@dataclass
class Fidelity:
    """Hard-mask fidelity of a datapath (never from soft gates).

    sufficiency: share of the set whose target class survives when only the datapath is kept.
    specificity: share of control images (predicted as another class) that the same mask does
        *not* turn into a class of the set; None when no control images were given.
    necessity: share of the set whose target class survives when exactly the datapath is
        removed (low is good).
    """

    sufficiency: float
    specificity: float | None
    necessity: float


@dataclass
class Datapath:
    """The channels a set of predictions depends on, per site, with measured fidelity.

    channels: site -> kept channel indices (every site present, at least one channel each);
    scores: site -> one score per channel (gate value for "gates"; the method's ranking score
    otherwise); site_channels: site -> total channels.
    """

    channels: dict[str, list[int]]
    scores: dict[str, list[float]]
    site_channels: dict[str, int]
    fidelity: Fidelity
    method: str
    targets: list[int]
    ablation: str = "zero"
    reference: dict[str, list[float]] | None = None
    settings: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    n_control: int = 0
    schema_version: int = SCHEMA_VERSION

    @property
    def kept_fraction(self) -> float:
        """Kept channels over all channels of all sites."""
        kept = sum(len(c) for c in self.channels.values())
        return kept / sum(self.site_channels.values())

    @property
    def n_images(self) -> int:
        return len(self.targets)

    def kept(self, site: str) -> list[int]:
        return self.channels[site]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["kept_fraction"] = self.kept_fraction
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict) -> Datapath:
        from pathlens.errors import PathlensError

        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise PathlensError(
                f"This datapath has schema version {version}; this pathlens reads version "
                f"{SCHEMA_VERSION}. Re-extract it, or open it with the pathlens that wrote it."
            )
        data = {k: v for k, v in data.items() if k != "kept_fraction"}
        data["fidelity"] = Fidelity(**data["fidelity"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Datapath:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        f = self.fidelity
        spec = "unknown" if f.specificity is None else f"{f.specificity:.2f}"
        return (
            f"Datapath({self.method}, {self.n_images} images, kept {self.kept_fraction:.1%} of "
            f"{sum(self.site_channels.values())} channels, sufficiency {f.sufficiency:.2f}, "
            f"specificity {spec}, necessity {f.necessity:.2f})"
        )
