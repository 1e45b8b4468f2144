"""Indicators of activation vs creation. Each returns a tidy DataFrame or a small dataclass."""
