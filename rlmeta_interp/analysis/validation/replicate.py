"""Does the low-dose credit replicate? The second low-dose test's outcome, as its second amendment names it
(docs/preregistration.md), computed from committed readings, manifests and the committed fit alone.

The registered question is :mod:`.beyond`'s, unchanged (credited: at least 6 expanding activation cases from at least 4
bases read activation with the exact 95% interval's lower end above one half, as read and with boundary held at its
cut). This names its outcome on a replication:

- *cannot answer*: the credit is not answerable, or a base of the test has no expanding activation case (each of the
  test's bases must contribute one);
- *replicated*: credited;
- *fails to replicate*: at most half the expanding cases read activation, either way; only this outcome withdraws the
  earlier test's credit;
- *not replicated at the bar*: anything else (most read activation, too few to clear the bar).

They are tried in that order: a test that cannot answer neither replicates nor fails to.

Reported beside it, not deciding: the share read activation pooled over this test's and the earlier test's expanding
cases (exact 95% interval, with the number of bases); the activation cases that did not expand but were read creation;
and, stated in advance, the chance that every expanding case reads activation if each does so at the earlier test's
share.

``python -m rlmeta_interp.analysis.validation.replicate TEST EARLIER REFERENCE`` writes ``<TEST>-replicate.json``
beside the readings (``data/pilots/readings/``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .beyond import beyond_passk, expanding_activation
from .metrics import recall_exact_ci
from .questions import PASSK_INPUT, Row, cases, require_manifests, run_question, without_input

WAYS = ("as read", f"{PASSK_INPUT} at its cut")


def share(read: Sequence[str]) -> dict[str, Any]:
    """How many of ``read`` are activation, of how many, with the exact 95% interval."""
    k, n, lo, hi = recall_exact_ci(["activation"] * len(read), list(read))["activation"] if read else [0, 0, None, None]
    return {"read_activation": int(k), "n": int(n), "interval": [lo, hi]}


def outcome(credits: Mapping[str, Mapping[str, Any]], bases_without: Sequence[str]) -> str:
    """The named outcome (module docstring) from :func:`~.questions.credit` of each way and the test's bases without
    an expanding case."""
    if bases_without or not all(c["answerable"] for c in credits.values()):
        return "cannot answer"
    if all(c["credited"] for c in credits.values()):
        return "replicated"
    if any(c["read_activation"] <= c["n"] / 2 for c in credits.values()):
        return "fails to replicate"
    return "not replicated at the bar"


def replication(test: Sequence[Row], earlier: Sequence[Row], reference: Sequence[Row],
                manifests: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The outcome (module docstring) of readings rows ``test`` against ``earlier`` (the test whose credit is
    replicated), with :mod:`.beyond`'s ``reference``. JSON-ready."""
    require_manifests([*test, *earlier, *reference], manifests)

    def base_of(r: Row) -> str:
        return str(manifests[str(r["pair"])]["base"])

    answer = beyond_passk(test, reference, manifests, fitted)
    credits = answer["questions"]["all"]
    mine, theirs = expanding_activation(test), expanding_activation(earlier)
    bases = sorted({base_of(r) for r in test if r["label"] == "activation"})
    bases_without = sorted(set(bases) - {base_of(r) for r in mine})
    pooled = [*mine, *theirs]
    before = share([str(r["reading"]) for r in theirs])
    names = {str(r["pair"]) for r in mine}
    quiet = [r for r in cases(test) if r["label"] == "activation" and str(r["pair"]) not in names]
    return {"outcome": outcome(credits, bases_without), "credit": dict(credits), "bases": bases,
            "bases_without_expanding_case": bases_without, "earlier_share": before,
            "pooled": {"as read": share([str(r["reading"]) for r in pooled]),
                       WAYS[1]: share(without_input(pooled, fitted, PASSK_INPUT)),
                       "n_bases": len({base_of(r) for r in pooled})},
            "chance_all_read_activation_at_earlier_share": (before["read_activation"] / before["n"]) ** len(mine)
            if before["n"] else None,
            "not_expanding_read_creation": [str(r["pair"]) for r in quiet if r["reading"] == "creation"],
            "not_expanding": len(quiet)}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "replicate", "TEST EARLIER REFERENCE (readings names under data/pilots/readings, e.g."
                        " composition-lowdose2 composition-lowdose composition-test2)", (),
                        lambda r, m, f: replication(r[0], r[1], r[2], m, f), folder, table_dir)


if __name__ == "__main__":
    main()
