"""End-to-end experiments that the notebooks call: each combines loading, sampling and the analysis modules
into the tables a notebook plots. Analyses themselves live in :mod:`rlmeta_interp.analysis`."""
