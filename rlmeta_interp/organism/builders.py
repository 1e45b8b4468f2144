"""The spec builders every preset uses: a base, an RL and a fine-tuned organism named after their world, dose,
seed and variant, with the shared world configs and default budgets."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidConfigError
from .corpus import WORLD_CONFIG_KEYS, CorpusConfig, WorldName, make_world, world_configs
from .pretrain import ModelConfig, PretrainConfig
from .rl import RLConfig
from .spec import EvalConfig, OrganismSpec, design_label, sft_label
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig
from .worlds.planning import PlanningConfig

CORPUS_KEYS = ("shallow_max_depth", "format_weights", "arithmetic_dose", "bandit_rewards", "depth_format")

# single-digit operands: a ~0.5M model learns the scratchpad steps from ~1.5M tokens; two-digit operands
# (pass@1 0.05 after the same budget) need several times more pretraining than the demo can afford
ARITH = ArithmeticConfig(min_operands=2, max_operands=4, min_digits=1, max_digits=1, ops="+-")
SMALL = ModelConfig(d_model=96, n_layers=4, n_heads=4, d_mlp=256, max_len=128)
BANDIT = BanditConfig(n_arms=3, horizon=24)
PLAN = PlanningConfig(n_nodes=8, n_edges=10, min_depth=1, max_depth=4)
SHORT = {"arithmetic": "arith", "bandits": "bandit", "planning": "plan", "composition": "comp"}
# arithmetic GRPO on these organisms is fragile: lr 1e-4 (8 prompts x 8) left pass@1 flat or lower, 3e-4 to 1.5e-3
# drove the reward from 0.45 towards 0; 3e-5 with 16 prompts x 8 raised pass@1 0.41 -> 0.46 and greedy 0.64 -> 0.78
RL_LR = 3e-5
RL_PROMPTS = 16


def dose_tag(dose: float) -> str:
    """The dose in a model's name, in whole percent ("d005" for 0.05); a dose between whole percents would share a
    name with its neighbour, so it is refused."""
    pct = round(dose * 100)
    if not 0 <= dose <= 1 or abs(dose * 100 - pct) > 1e-9:
        raise InvalidConfigError(f"Dose {dose!r} cannot be named: model names give the dose in whole percent, so use"
                                 " a dose in [0, 1] that is a multiple of 0.01.")
    return f"d{pct:03d}"


def base_spec(world: WorldName, dose: float, preset: str, *, steps: int, model: ModelConfig = SMALL, lr: float = 3e-3,
              batch_size: int = 128, seed: int = 0, eval_cfg: EvalConfig | None = None, tag: str = "",
              **world_cfgs: Any) -> OrganismSpec:
    """A base organism: pretrained on ``world`` at exposure ``dose`` (corpus keys and ``eval_<world>`` configs in
    ``world_cfgs``); ``tag`` names a corpus variant (e.g. "shuf") in the model name."""
    corpus = CorpusConfig(world=world, dose=dose, seed=seed, **{k: v for k, v in world_cfgs.items()
                                                                if k in WORLD_CONFIG_KEYS},
                          **{k: v for k, v in world_cfgs.items() if k in CORPUS_KEYS})
    pcfg = PretrainConfig(corpus=corpus, model=model, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          checkpoint_every=100, log_every=50)
    evw = {k: v for k, v in world_cfgs.items() if k in WORLD_CONFIG_KEYS}
    evw.update({k[5:]: v for k, v in world_cfgs.items() if k.startswith("eval_")})
    name = (f"{preset}-{SHORT[world]}{'-' + tag if tag else ''}-{dose_tag(dose)}" + (f"-s{seed}" if seed else "")
            + "-base")
    return OrganismSpec(name=name, kind="base", world=world, dose=dose, pretrain=pcfg,
                        eval=eval_cfg or EvalConfig(), **evw)


def rl_spec(base: OrganismSpec, variant: str, *, steps: int, seed: int = 0, lr: float = RL_LR, beta: float = 0.02,
            checkpoint_every: int = 0, reward: str = "correct", one_shot: bool = False, ref_reset_every: int = 0,
            prompts_per_step: int = RL_PROMPTS, num_generations: int = 8, split: str = "", recipe: str = "",
            eval_cfg: EvalConfig | None = None, **world_cfgs: Any) -> OrganismSpec:
    """An RL organism GRPO-tuned from ``base``; its design label follows from the base's corpus and the reward."""
    wc = world_configs(base)
    wc.update(world_cfgs)
    world = make_world(base.world, **wc)
    max_len = 2 * wc["bandits"].horizon if base.world == "bandits" else world.max_completion_chars()  # type: ignore[attr-defined]
    cfg = RLConfig(world=base.world, steps=steps, seed=seed, lr=lr, beta=beta, checkpoint_every=checkpoint_every,
                   reward=reward, one_shot=one_shot, ref_reset_every=ref_reset_every, max_completion_length=max_len,
                   prompts_per_step=prompts_per_step, num_generations=num_generations, save_every=20, **wc)
    name = base.name.removesuffix("-base") + f"-rl-{variant}" + (f"-s{seed}" if seed else "")
    assert base.pretrain is not None
    label = design_label(base.pretrain.corpus, reward) if recipe else ""
    return OrganismSpec(name=name, kind="rl", world=base.world, dose=base.dose, rl=cfg, base=base.name,
                        variant=variant, eval=eval_cfg or base.eval, label=label, split=split, recipe=recipe, **wc)


def sft_spec(base: OrganismSpec, variant: str, corpus: CorpusConfig, *, steps: int, lr: float, batch_size: int = 64,
             split: str = "", recipe: str = "") -> OrganismSpec:
    """``base`` fine-tuned by next-token prediction on ``corpus``: creation by construction when the base's corpus
    lacked the capability that ``corpus`` demonstrates, activation when it held it."""
    assert base.pretrain is not None
    cfg = base.pretrain.replace(corpus=corpus, steps=steps, lr=lr, batch_size=batch_size, warmup_steps=10)
    name = base.name.removesuffix("-base") + f"-sft-{variant}"
    return OrganismSpec(name=name, kind="sft", world=base.world, dose=base.dose, pretrain=cfg, base=base.name,
                        variant=variant, eval=base.eval, label=sft_label(base.pretrain.corpus, corpus),
                        split=split, recipe=recipe, **world_configs(base))
