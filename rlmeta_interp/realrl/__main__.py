"""``python -m rlmeta_interp.realrl`` (and ``accelerate launch -m rlmeta_interp.realrl``)."""

from .cli import main

raise SystemExit(main())
