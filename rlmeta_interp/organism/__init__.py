"""Model organisms: small transformers pretrained on synthetic worlds with a known exposure dose, then RL-tuned.

- ``worlds``: arithmetic chains, Bernoulli bandits, graph planning (generators + verifiers).
- ``corpus``: pretraining documents with an exact exposure dose.
- ``pretrain``: deterministic, resumable pretraining of a Hugging Face Llama organism.
- ``rl``: GRPO through TRL (bandit episodes through ``rollout_func`` + ``env_mask``).
- ``evaluate``: pass@k and regret; ``gain``: the post-training gain check beside each design label.
- ``spec``: what an organism is, and the label its corpus design fixes before training.
- ``presets``: the ``demo``, ``validation`` and ``paper`` sets of organisms.
- ``zoo``: builds presets idempotently with manifests; ``tables``: the generated tables of data/README.md.

Submodules are imported lazily by their users (TRL and transformers are slow to import).
"""
