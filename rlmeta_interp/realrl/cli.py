"""Command line of the real-LM RL run (``python -m rlmeta_interp.realrl``, ``rlmeta-interp realrl``, and the
target of ``accelerate launch -m rlmeta_interp.realrl``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import RlmetaError
from ..io import read_json
from .config import RealRLConfig
from .train import train

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlmeta_interp.realrl",
                                description="GRPO+LoRA on a real causal LM; saves a LoRA adapter with a manifest.")
    p.add_argument("--config", type=Path, help="JSON file with RealRLConfig fields (others keep defaults)")
    p.add_argument("--model", help="registry model name or Hugging Face folder (overrides the config)")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter and its manifest")
    p.add_argument("--steps", type=int, help="override steps (GRPO optimizer steps)")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--no-eval", action="store_true", help="skip the pass@k evaluation before and after")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one training; a typed error (bad config, missing weights) prints its message and exits with code 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = RealRLConfig.from_dict(read_json(args.config)) if args.config else RealRLConfig()
        overrides = {k: v for k, v in (("model", args.model), ("steps", args.steps), ("seed", args.seed))
                     if v is not None}
        if overrides:
            config = config.replace(**overrides)
        manifest = train(config, args.out, evaluate=not args.no_eval)
    except RlmetaError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    if manifest.get("metrics"):
        log.info("delta (RL - base): %s", manifest["metrics"].get("delta"))
    return 0
