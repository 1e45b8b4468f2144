"""Hybrid "when-not-how" decoding (Venhoff et al. 2510.07364): RL picks *when* to steer, base vectors do *how*.

- :func:`hybrid_decode` / :func:`hybrid_gap_recovery`: decode greedily token by token; where the base and the RL
  model's greedy next tokens disagree, steer the base model at that token with the vector of the category the RL
  model's activation picks, and record the fraction of tokens steered. Controls: random firing at the same rate,
  random vectors of equal norm, bias only. Decoding keeps a KV cache per model (:class:`HybridConfig.kv_cache`).
- :func:`fit_categories` / :func:`category_vectors`: behaviour categories from a tiny TopK SAE (SAELens, k=1,
  5-15 latents) on RL activations, or k-means as a fallback; one steering vector per category from base
  activations (category mean minus overall mean; Venhoff et al. optimise theirs, difference of means is the
  cheap, closed-form stand-in).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError, NonFiniteError
from ..hooks import Site, hook_name, resolve_layer
from ..steering import SteeringVector
from ..views import tl_view
from .recovery import gap_recovered, score_array
from .ratios import recovered_share_ci
from .stats import mean_ci

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# categories for hybrid decoding
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryConfig(FrozenConfig):
    """Behaviour categories: ``"sae"`` = a TopK SAE with ``k=1`` and ``n_categories`` latents trained with SAELens
    on RL activations (category = the latent that fires), ``"kmeans"`` = scikit-learn k-means (fallback).

    A k=1 SAE is a clustering with local optima (a latent can die early and stay dead). So each latent starts at a
    k-means++ seed of the centred activations (scikit-learn's ``kmeans_plusplus``), the decoder bias at the mean,
    and ``n_restarts`` SAEs (seeds ``seed, seed + 1, ...``) are trained, keeping the one with the lowest
    reconstruction error. On planted Gaussian clusters (3-15 clusters, 8-32 dims, offsets up to 100) SAELens's
    random init missed clusters in about 40% of single runs; with this init every single run found them all.
    """

    n_categories: int = 8
    method: Literal["sae", "kmeans"] = "sae"
    n_restarts: int = 2
    training_samples: int = 30_000
    batch_size: int = 128
    lr: float = 1e-2
    dead_feature_window: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_categories", 1, 64)
        check_range(self, "n_restarts", 1)
        check_range(self, "batch_size", 1)
        check_range(self, "training_samples", 1)
        check_range(self, "dead_feature_window", 1)
        check_range(self, "lr", 0.0, lo_open=True)


@dataclass
class CategoryModel:
    """Assigns each activation row one category in ``0..n_categories-1``."""

    method: str
    n_categories: int
    sae: Any = None
    kmeans: Any = None

    @torch.no_grad()
    def predict(self, acts: Float[Tensor, "n d_model"]) -> Int[Tensor, " n"]:
        x = acts.detach().float()
        if x.ndim == 1:
            x = x[None]
        if self.method == "kmeans":
            return torch.from_numpy(self.kmeans.predict(x.double().numpy())).long()
        feats = self.sae.encode(x)
        cats = feats.argmax(-1)
        silent = feats.max(-1).values <= 0
        if silent.any():  # no latent fired (its pre-activation was negative): nearest decoder direction instead
            w = self.sae.W_dec / self.sae.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            cats[silent] = ((x[silent] - self.sae.b_dec) @ w.T).argmax(-1)
        return cats.long()


def fit_categories(rl_acts: Float[Tensor, "n d_model"], config: CategoryConfig = CategoryConfig()) -> CategoryModel:
    """Fit behaviour categories on RL-model activations (e.g. one row per sentence or per token)."""
    if rl_acts.ndim != 2 or rl_acts.shape[0] < config.n_categories:
        raise InvalidConfigError(
            f"fit_categories needs [n, d_model] activations with n >= n_categories={config.n_categories},"
            f" got shape {tuple(rl_acts.shape)}."
        )
    if not torch.isfinite(rl_acts).all():
        raise NonFiniteError("rl_acts holds NaN or inf: harvest again in float32.")
    if config.method == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=config.n_categories, n_init=10, random_state=config.seed)
        km.fit(rl_acts.detach().double().numpy())
        return CategoryModel("kmeans", config.n_categories, kmeans=km)
    from sklearn.cluster import kmeans_plusplus

    from .saes import SaeTrainConfig, train_sae

    x = rl_acts.detach().float()
    centred = (x - x.mean(0)).double().numpy()
    best, best_err = None, float("inf")
    for i in range(config.n_restarts):
        seeds, _ = kmeans_plusplus(centred, n_clusters=config.n_categories, random_state=config.seed + i)
        sae = train_sae(x, SaeTrainConfig(
            d_sae=config.n_categories, k=1, lr=config.lr, batch_size=min(config.batch_size, x.shape[0]),
            training_samples=max(config.training_samples, config.batch_size),
            dead_feature_window=config.dead_feature_window, seed=config.seed + i,
        ), init_directions=torch.from_numpy(seeds).float())
        with torch.no_grad():
            err = float(((sae.decode(sae.encode(x)) - x) ** 2).sum())
        if err < best_err:
            best, best_err = sae, err
    sae = best
    return CategoryModel("sae", config.n_categories, sae=sae)


def category_vectors(
    base_acts: Float[Tensor, "n d_model"],
    categories: Int[Tensor, " n"],
    n_categories: int,
    layer: int,
    site: Site = "resid_post",
) -> dict[int, SteeringVector]:
    """One vector per category from base activations: ``mean(rows of category c) - mean(all rows)``.

    A category with no rows gets a zero vector (steering with it does nothing; a warning names it).
    """
    if base_acts.ndim != 2 or categories.shape != (base_acts.shape[0],):
        raise InvalidConfigError(
            f"base_acts must be [n, d_model] and categories [n]; got {tuple(base_acts.shape)} and {tuple(categories.shape)}."
        )
    x = base_acts.detach().float()
    overall = x.mean(0)
    out = {}
    for c in range(n_categories):
        rows = x[categories == c]
        if rows.shape[0] == 0:
            log.warning("category_vectors: category %d has no rows; its steering vector is zero.", c)
            out[c] = SteeringVector({layer: torch.zeros_like(overall)}, site)
        else:
            out[c] = SteeringVector({layer: rows.mean(0) - overall}, site)
    return out


# ---------------------------------------------------------------------------------------------------------------
# (b) hybrid "when-not-how" decoding
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HybridConfig(FrozenConfig):
    """Token-by-token greedy hybrid decoding.

    ``firing``: ``"disagree"`` steers where base and RL greedy tokens differ (the method); ``"random"`` steers
    each token with probability ``fire_rate`` (control); ``"always"`` / ``"never"`` steer every / no token.
    ``classify_layer`` / ``classify_site``: the RL activation (at the newest position) the classifier reads.
    ``kv_cache``: decode with a KV cache (each step feeds one new token per model); ``False`` recomputes the whole
    sequence every step (the slow reference the cached path is tested against; same tokens).
    """

    max_new_tokens: int = 32
    multiplier: float = 1.0
    firing: Literal["disagree", "random", "always", "never"] = "disagree"
    fire_rate: float = 0.0
    classify_layer: int = -1
    classify_site: Site = "resid_post"
    seed: int = 0
    stop_at_eos: bool = True
    kv_cache: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "max_new_tokens", 1)
        check_range(self, "fire_rate", 0.0, 1.0)


@dataclass
class HybridResult:
    """Per prompt: completion text, and per generated token whether it was steered / the category / disagreement,
    and the generated token ids (EOS included when decoding stopped there)."""

    completions: list[str]
    steered: list[list[bool]] = field(default_factory=list)
    categories: list[list[int]] = field(default_factory=list)
    disagreed: list[list[bool]] = field(default_factory=list)
    tokens: list[list[int]] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return sum(len(s) for s in self.steered)

    @property
    def frac_steered(self) -> float:
        return sum(sum(s) for s in self.steered) / self.n_tokens if self.n_tokens else float("nan")

    @property
    def frac_disagreed(self) -> float:
        return sum(sum(s) for s in self.disagreed) / self.n_tokens if self.n_tokens else float("nan")


def _as_category_vectors(vectors: Mapping[int, SteeringVector] | SteeringVector) -> dict[int, SteeringVector]:
    if isinstance(vectors, SteeringVector):
        return {0: vectors}
    if not vectors:
        raise EmptyInputError("No steering vectors given: pass a SteeringVector or {category: SteeringVector}.")
    return dict(vectors)


def _steer_hooks(tl: Any, vectors: dict[int, SteeringVector], log_: list[tuple[int, int]], mult: float) -> list[tuple[str, Any]]:
    """Hooks re-applying every earlier steering event (position, category): what a KV cache would have kept."""
    by_cat: dict[int, list[int]] = {}
    for pos, cat in log_:
        by_cat.setdefault(cat, []).append(pos)
    pairs: list[tuple[str, Any]] = []
    for cat, positions in by_cat.items():
        pairs += vectors[cat].hooks(tl, multiplier=mult, positions=positions)
    return pairs


def _full_mask(tl: Any, tokens: Tensor) -> dict[str, Any]:
    """``attention_mask`` of all ones for a ``HookedTransformer`` (nothing for a ``TransformerBridge``).

    Hybrid decoding runs one unpadded sequence, so every token is attended. Without a mask, a HookedTransformer builds
    one from the pad id whenever it has a KV cache or its tokenizer pads on the left, masking the leading tokens of
    each forward's input that equal the pad id (and shifting absolute positions past them): with a cache that is any
    generated token equal to the pad id. The cached and the uncached paths both pass this mask, so they see the same
    sequence whatever the tokenizer's padding side.
    """
    from transformer_lens import HookedTransformer

    return {"attention_mask": torch.ones_like(tokens)} if isinstance(tl, HookedTransformer) else {}


class _CachedDecoder:
    """Incremental forward passes of one TransformerLens model over a growing sequence, with a KV cache.

    A ``HookedTransformer`` keeps its keys and values in TransformerLens's own ``TransformerLensKeyValueCache``
    (``past_kv_cache=``); a ``TransformerBridge`` runs the Hugging Face model, so it gets a Hugging Face
    ``DynamicCache`` (``past_key_values=``), built from the model config (sliding-window layers included) with past
    recording on, so that :meth:`drop_last` can roll back the newest positions (what assisted decoding does).
    Hooks passed to :meth:`forward` see only the new positions.
    """

    def __init__(self, tl: Any) -> None:
        from transformer_lens import HookedTransformer

        self.tl = tl
        self.is_bridge = not isinstance(tl, HookedTransformer)
        self.cache: Any = None

    def reset(self) -> None:
        if self.is_bridge:
            from transformers import DynamicCache

            self.cache = DynamicCache(config=self.tl.original_model.config)
            self.cache.activate_past_recording()
        else:
            from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache

            self.cache = TransformerLensKeyValueCache.init_cache(self.tl.cfg, self.tl.cfg.device, 1)

    def _kwargs(self, tokens: Tensor) -> dict[str, Any]:
        if self.is_bridge:
            return {"past_key_values": self.cache, "use_cache": True}
        return {"past_kv_cache": self.cache, **_full_mask(self.tl, tokens)}

    def forward(self, tokens: Tensor, fwd_hooks: Sequence[tuple[str, Any]] = ()) -> Tensor:
        """Logits of ``tokens`` (the positions after the cached ones), whose keys and values join the cache."""
        if fwd_hooks:
            return self.tl.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks), **self._kwargs(tokens))
        return self.tl(tokens, **self._kwargs(tokens))  # no TransformerLens hook context: it costs a forward's worth

    @contextlib.contextmanager
    def capture(self, name: str) -> Iterator[dict[str, Tensor]]:
        """``{"act": activation}`` of hook ``name`` after each forward, through a plain torch forward hook on its
        HookPoint (removed by its own handle, so other hooks are untouched)."""
        seen: dict[str, Tensor] = {}
        handle = self.tl.hook_dict[name].register_forward_hook(lambda mod, inp, out: seen.__setitem__("act", out))
        try:
            yield seen
        finally:
            handle.remove()

    def drop_last(self, n: int) -> None:
        """Forget the newest ``n`` cached positions (to recompute them steered)."""
        if self.is_bridge:
            self.cache.crop(-n)
            return
        for entry in self.cache.entries:
            entry.past_keys = entry.past_keys[:, :-n]
            entry.past_values = entry.past_values[:, :-n]
        self.cache.previous_attention_mask = self.cache.previous_attention_mask[:, :-n]

    def commit(self) -> None:
        """End of a step: let sliding-window layers trim what they no longer need (their past is kept until then)."""
        if self.is_bridge:
            self.cache.crop(0)


@torch.no_grad()
def hybrid_decode(
    base: Any,
    rl: Any,
    prompts: Sequence[str],
    vectors: Mapping[int, SteeringVector] | SteeringVector,
    classifier: Callable[[Float[Tensor, "n d_model"]], Int[Tensor, " n"]] | CategoryModel | None = None,
    config: HybridConfig = HybridConfig(),
) -> HybridResult:
    """Greedy hybrid decoding of each prompt (see the module docstring).

    With ``config.kv_cache`` (default) each step feeds only the newest token to each model; when a step is steered,
    the base model's newest position is dropped from its cache and recomputed with the steering hook on it, so the
    cache holds exactly the activations the decoding acted on. Without a KV cache each step recomputes the whole
    sequence and every earlier steering event is re-applied at its position, which gives the same tokens. With several
    categories, ``classifier`` maps the RL model's activation at the newest position to a category key of
    ``vectors``; with one vector it is optional.
    """
    if not prompts:
        raise EmptyInputError("No prompts given: pass at least one prompt string.")
    cat_vecs = _as_category_vectors(vectors)
    if len(cat_vecs) > 1 and classifier is None:
        raise InvalidConfigError("Several category vectors need a classifier (e.g. fit_categories(...)) to pick one per token.")
    classify = classifier.predict if isinstance(classifier, CategoryModel) else classifier
    base_tl, rl_tl = tl_view(base), tl_view(rl)
    if base_tl.cfg.d_vocab != rl_tl.cfg.d_vocab:
        raise InvalidConfigError("Base and RL models have different vocabularies: hybrid decoding needs one tokenizer.")
    layer = resolve_layer(config.classify_layer, rl_tl.cfg.n_layers)
    cls_hook = hook_name(layer, config.classify_site)
    eos = base_tl.tokenizer.eos_token_id if base_tl.tokenizer is not None else None
    rng = np.random.default_rng(config.seed)
    only_cat = next(iter(cat_vecs))
    result = HybridResult(completions=[])
    base_dec, rl_dec = _CachedDecoder(base_tl), _CachedDecoder(rl_tl)
    with rl_dec.capture(cls_hook) if config.kv_cache else contextlib.nullcontext() as captured:
        for prompt in prompts:
            tokens = base_tl.to_tokens(prompt)
            n_prompt = tokens.shape[1]
            events: list[tuple[int, int]] = []
            steered, cats, disagreed = [], [], []
            if config.kv_cache:
                base_dec.reset()
                rl_dec.reset()
            new_tokens = tokens  # what the cached models have not seen yet: the prompt, then one token per step
            for _ in range(config.max_new_tokens):
                pos = tokens.shape[1] - 1
                if config.kv_cache:
                    rl_logits = rl_dec.forward(new_tokens)
                    rl_act = captured["act"][0, -1]  # read now: when base is rl, the base forward overwrites it
                    base_logits = base_dec.forward(new_tokens)
                else:
                    rl_logits, cache = rl_tl.run_with_cache(tokens, names_filter=cls_hook, **_full_mask(rl_tl, tokens))
                    rl_act = cache[cls_hook][0, -1]
                    replay = _steer_hooks(base_tl, cat_vecs, events, config.multiplier)
                    base_logits = base_tl.run_with_hooks(tokens, fwd_hooks=replay, **_full_mask(base_tl, tokens))
                rl_next = int(rl_logits[0, -1].argmax())
                base_next = int(base_logits[0, -1].argmax())
                differ = base_next != rl_next
                fire = {"disagree": differ, "always": True, "never": False}.get(config.firing)
                if fire is None:
                    fire = bool(rng.random() < config.fire_rate)
                nxt, cat = base_next, -1
                if fire:
                    cat = only_cat if classify is None or len(cat_vecs) == 1 else int(classify(rl_act[None])[0])
                    if cat not in cat_vecs:
                        raise InvalidConfigError(f"The classifier returned category {cat}, which has no vector in {sorted(cat_vecs)}.")
                    events.append((pos, cat))
                    if config.kv_cache:  # recompute the newest position(s) with the steering hook on the last one
                        base_dec.drop_last(new_tokens.shape[1])
                        hooks = cat_vecs[cat].hooks(base_tl, multiplier=config.multiplier, positions="last")
                        logits = base_dec.forward(new_tokens, hooks)
                    else:
                        replay = _steer_hooks(base_tl, cat_vecs, events, config.multiplier)
                        logits = base_tl.run_with_hooks(tokens, fwd_hooks=replay, **_full_mask(base_tl, tokens))
                    nxt = int(logits[0, -1].argmax())
                if config.kv_cache:
                    base_dec.commit()
                    rl_dec.commit()
                steered.append(fire)
                cats.append(cat)
                disagreed.append(differ)
                new_tokens = torch.tensor([[nxt]], device=tokens.device)
                tokens = torch.cat([tokens, new_tokens], 1)
                if config.stop_at_eos and eos is not None and nxt == eos:
                    break
            new = tokens[0, n_prompt:].tolist()
            result.tokens.append(list(new))
            if config.stop_at_eos and eos is not None and eos in new:
                new = new[: new.index(eos)]
            result.completions.append(base_tl.tokenizer.decode(new, skip_special_tokens=True))
            result.steered.append(steered)
            result.categories.append(cats)
            result.disagreed.append(disagreed)
    return result


def hybrid_gap_recovery(
    base: Any,
    rl: Any,
    prompts: Sequence[str],
    reward: Callable[[int, str], float],
    vectors: Mapping[int, SteeringVector] | SteeringVector,
    classifier: Callable[[Tensor], Tensor] | CategoryModel | None = None,
    *,
    bias: SteeringVector | None = None,
    config: HybridConfig = HybridConfig(),
    n_random: int = 3,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> tuple[pd.DataFrame, dict[str, HybridResult]]:
    """Hybrid decoding against its controls; ``reward(prompt_index, completion) -> float`` scores completions.

    Conditions: ``base`` and ``rl`` (greedy, unsteered), ``hybrid`` (steer where they disagree), ``random_firing``
    (steer each token with the hybrid's steered fraction as probability; ``n_random`` seeds), ``random_vectors``
    (equal-norm random vectors, disagreement firing; ``n_random`` seeds), ``bias_only`` (if ``bias`` is given: the
    bias vector for every category, disagreement firing). Rows: ``condition, seed, accuracy, acc_ci_lo,
    acc_ci_hi, gap_recovered, ci_lo, ci_hi, frac_steered, n`` (accuracy: a Wilson interval for 0/1 rewards, else a
    bootstrap; gap recovered: MOVER-R over problems, as in steering recovery); also returns each condition's
    :class:`HybridResult`.
    """
    cat_vecs = _as_category_vectors(vectors)
    never = config.replace(firing="never")

    def score(res: HybridResult) -> np.ndarray:
        return score_array([reward(i, c) for i, c in enumerate(res.completions)], "reward")

    runs: dict[str, HybridResult] = {
        "base": hybrid_decode(base, base, prompts, cat_vecs, classifier, never),
        "rl": hybrid_decode(rl, rl, prompts, cat_vecs, classifier, never),
        "hybrid": hybrid_decode(base, rl, prompts, cat_vecs, classifier, config),
    }
    rate = runs["hybrid"].frac_steered
    for i in range(n_random):
        seed = config.seed + i
        runs[f"random_firing:{seed}"] = hybrid_decode(
            base, rl, prompts, cat_vecs, classifier, config.replace(firing="random", fire_rate=float(rate), seed=seed))
        rand = {c: SteeringVector.random_like(v, seed=seed * 1000 + int(c)) for c, v in cat_vecs.items()}
        runs[f"random_vectors:{seed}"] = hybrid_decode(base, rl, prompts, rand, classifier, config)
    if bias is not None:
        runs["bias_only"] = hybrid_decode(base, rl, prompts, {c: bias for c in cat_vecs}, classifier, config)
    scores = {k: score(v) for k, v in runs.items()}
    s_base, s_rl = scores["base"], scores["rl"]
    rows = []
    for key, s in scores.items():
        condition, _, seed = key.partition(":")
        lo, hi = mean_ci(s, n_boot=n_boot, ci=ci, seed=config.seed)  # Wilson for 0/1 verifier scores
        g_lo, g_hi = recovered_share_ci(s, s_base, s_rl, n_boot=n_boot, ci=ci, seed=config.seed)
        rows.append({
            "condition": condition, "seed": int(seed) if seed else None, "accuracy": float(s.mean()),
            "acc_ci_lo": lo, "acc_ci_hi": hi, "gap_recovered": gap_recovered(s.mean(), s_base.mean(), s_rl.mean()),
            "ci_lo": g_lo, "ci_hi": g_hi, "frac_steered": runs[key].frac_steered, "n": int(s.shape[0]),
        })
    return pd.DataFrame(rows), runs
