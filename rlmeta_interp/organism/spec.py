"""What a zoo organism is: its spec, its evaluation, and the label that its corpus design fixes before training.

A label answers "was the rewarded capability, at the evaluated difficulty, in the base's pretraining corpus?":

- ``activation``: yes (a dose > 0 of documents that demonstrate it);
- ``creation``: no (dose 0 at the evaluated difficulty: the corpus never shows it);
- ``no_signal``: a control whose training carries no information about the capability (random rewards, or
  fine-tuning documents that never show it).

:func:`design_label` computes it from the configs alone. It never reads a model or a model's output, so it can be
written into the manifest before training starts; whether RL then produced a measurable gain is a separate,
operational reading (``organism/gain.py``) reported beside the label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..config import FrozenConfig, PairLabel, check_range
from ..errors import InvalidConfigError
from .corpus import CorpusConfig, WorldName
from .pretrain import PretrainConfig
from .rl import RLConfig
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig
from .worlds.composition import CompositionConfig
from .worlds.planning import PlanningConfig

LABELS: tuple[str, ...] = get_args(PairLabel)
# TransformerLens 3.9 special-cases these words in folder names
_RESERVED_WORDS = ("llama", "gemma", "gpt", "qwen")


@dataclass(frozen=True)
class EvalConfig(FrozenConfig):
    """Held-out evaluation: problems from the RL training distribution drawn with ``seed`` (never trained on).

    ``levels`` lists difficulty levels (operands for arithmetic, depth for planning, functions composed for
    composition) evaluated one by one with
    ``per_difficulty_problems`` problems each; leak-free worlds draw them from the "eval" hash split.
    """

    n_problems: int = 64
    n_samples: int = 64  # pass@k for k = 1, 2, 4, ..., n_samples
    n_bandits: int = 300
    seed: int = 20_000
    by_difficulty: bool = False  # also pass@k per difficulty level (operands / depth), levels 2..5 or 1..5
    per_difficulty_problems: int = 32
    levels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_problems", 1)
        check_range(self, "n_samples", 1)
        check_range(self, "n_bandits", 2)
        check_range(self, "per_difficulty_problems", 2)
        if any(v < 1 for v in self.levels):
            raise InvalidConfigError(f"EvalConfig.levels={self.levels}: difficulty levels are positive integers.")


@dataclass(frozen=True)
class OrganismSpec(FrozenConfig):
    """One zoo entry.

    Base models carry ``pretrain``. RL models carry ``rl`` and the ``base`` name. ``sft`` models are a base
    fine-tuned by next-token prediction on another corpus (``pretrain``, started from the base's weights): the
    calibration cases whose answer needs no RL. RL and SFT models carry their design ``label``, the validation
    ``split`` they belong to, and the ``recipe`` that made them.
    """

    name: str
    kind: Literal["base", "rl", "sft"]
    world: WorldName
    dose: float
    pretrain: PretrainConfig | None = None
    rl: RLConfig | None = None
    base: str | None = None
    variant: str = ""
    eval: EvalConfig = field(default_factory=EvalConfig)
    # the RL training distribution, used for evaluation of bases and RL models alike
    arithmetic: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    bandits: BanditConfig = field(default_factory=BanditConfig)
    planning: PlanningConfig = field(default_factory=PlanningConfig)
    composition: CompositionConfig = field(default_factory=CompositionConfig)
    description: str = ""
    label: Literal["creation", "activation", "no_signal", ""] = ""
    split: Literal["calibration", "test", ""] = ""
    recipe: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "dose", 0.0, 1.0)
        if self.kind == "base" and (self.pretrain is None or self.rl is not None or self.label):
            raise InvalidConfigError(f"Base organism {self.name!r} needs `pretrain`, no `rl` config and no label.")
        if self.kind == "rl" and (self.rl is None or self.base is None):
            raise InvalidConfigError(f"RL organism {self.name!r} needs an `rl` config and a `base` name.")
        if self.kind == "sft" and (self.pretrain is None or self.base is None or self.rl is not None):
            raise InvalidConfigError(f"SFT organism {self.name!r} needs a `pretrain` config (the fine-tuning corpus)"
                                     " and a `base` name, and no `rl` config.")
        for bad in _RESERVED_WORDS:
            if bad in self.name.lower():
                raise InvalidConfigError(f"Organism name {self.name!r} contains {bad!r}; choose a neutral name.")

    @property
    def seed(self) -> int:
        return self.pretrain.seed if self.pretrain is not None else self.rl.seed  # type: ignore[union-attr]


def records_spec(manifest: dict[str, Any], spec: OrganismSpec | None) -> bool:
    """True when ``manifest`` records exactly ``spec`` as its config; False for no spec or an unreadable config. Read
    through :meth:`OrganismSpec.from_dict`, so fields added since the build, at their default values, still match."""
    if spec is None:
        return False
    try:
        return OrganismSpec.from_dict(manifest.get("config") or {}) == spec
    except (InvalidConfigError, TypeError, KeyError):
        return False


def capability_share(corpus: CorpusConfig) -> float:
    """Share of the corpus's documents that demonstrate the rewarded capability at the evaluated difficulty.

    Depth-dosed arithmetic: documents deeper than ``shallow_max_depth``; bandits: Thompson-sampling histories whose
    rewards are real (a shuffled-reward corpus shows no value learning, whatever its policy); planning: documents
    deeper than ``shallow_max_depth``; composition: worked compositions (a step fed by the step before it).
    Format-dosed arithmetic shows the correct answer to every problem in every document, so the rewarded capability
    (a correct answer) is always present: share 1.0.
    """
    if corpus.world == "arithmetic":
        return corpus.dose if corpus.arithmetic_dose == "depth" else 1.0
    if corpus.world == "bandits":
        return 0.0 if corpus.bandit_rewards == "shuffled" else corpus.dose
    return corpus.dose


def design_label(base_corpus: CorpusConfig, reward: str) -> str:
    """The label fixed by design (module docstring): from the base's corpus and the training reward only."""
    if reward == "random":
        return "no_signal"
    return "activation" if capability_share(base_corpus) > 0 else "creation"


def sft_label(base_corpus: CorpusConfig, sft_corpus: CorpusConfig) -> str:
    """The label of a base fine-tuned on ``sft_corpus``: ``no_signal`` when that corpus shows none of the capability
    (the fine-tuning control: same budget, nothing to learn about it), else the base corpus's label."""
    if capability_share(sft_corpus) == 0:
        return "no_signal"
    return design_label(base_corpus, "correct")


def exposure_record(base_corpus: CorpusConfig) -> dict[str, Any]:
    """What the base's pretraining corpus held of the rewarded capability, for the manifest."""
    c = base_corpus
    if c.world == "arithmetic" and c.arithmetic_dose == "depth":
        what = (f"worked chains of {c.shallow_max_depth + 1}-{c.arithmetic.max_operands} operands (every document shows"
                f" a scratchpad; chains of {c.arithmetic.min_operands}-{c.shallow_max_depth} operands always)")
    elif c.world == "arithmetic":
        what = "correct answers to every problem (the dose only switches the scratchpad format on)"
    elif c.world == "bandits":
        what = ("learning histories written by Thompson sampling" + (" with shuffled rewards (no value signal)"
                                                                     if c.bandit_rewards == "shuffled" else ""))
    elif c.world == "composition":
        k = c.composition
        what = (f"worked compositions of {k.min_level}-{k.max_level} of the {k.n_functions} atomic functions (every"
                f" other document applies 1-{k.max_level} of them in the same layout, unchained)")
    else:
        what = f"shortest paths deeper than {c.shallow_max_depth}"
    return {"capability": what, "share_of_documents": capability_share(c), "dose": c.dose,
            "leak_free": bool(getattr(c, c.world).leak_free)}
