"""Model organisms: small transformers pretrained on synthetic worlds with a known exposure dose, then RL-tuned.

- ``worlds``: arithmetic chains, Bernoulli bandits, graph planning (generators + verifiers).
- ``corpus``: pretraining documents with an exact exposure dose.
- ``pretrain``: deterministic, resumable pretraining of a Hugging Face Llama organism.
- ``rl``: GRPO through TRL (bandit episodes through ``rollout_func`` + ``env_mask``).
- ``evaluate``: pass@k and regret.
- ``zoo``: named presets (``demo``, ``paper``) built idempotently with manifests.

Submodules are imported lazily by their users (TRL and transformers are slow to import).
"""
