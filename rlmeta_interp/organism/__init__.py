"""Model organisms: small transformers pretrained on synthetic worlds with a known exposure dose, then RL-tuned."""
