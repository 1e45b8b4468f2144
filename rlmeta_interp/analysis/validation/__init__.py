"""Validation of the scorecard against pairs whose answer is known by construction: labels and splits
(:mod:`.labels`), held-out metrics (:mod:`.metrics`), fitting on calibration (:mod:`.fit`), the run, its committed
table and the README paragraph (:mod:`.report`), figures (:mod:`.plots`)."""
