"""Find, validate and execute the numbered notebooks (jupytext percent ``.py`` files), and index their figures.

Used by the test suite (every notebook in smoke mode, discovered, never listed by hand) and by
``rlmeta-interp figures`` (:func:`run_figures`: every notebook with its figure parameters; the only writer of the
tracked figures of record in ``figures/``). Any other run writes its figures under ``results/figures``.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EmptyInputError, InvalidConfigError, RlmetaError
from .io import ensure_dir, read_json, write_text_atomic
from .paths import figures_dir, notebooks_dir, record_figures_dir, results_dir

log = logging.getLogger(__name__)
_NUMBERED = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.py$")
_SAVE_FIG = re.compile(r"save_fig\(\s*[^,]+,\s*(\d+)\s*,\s*[\"']([A-Za-z0-9_\-]+)[\"']")


class NotebookFailedError(RlmetaError, RuntimeError):
    """A notebook raised while executing; the message names the cell's error and the saved output notebook."""


def discover(folder: Path | None = None) -> list[Path]:
    """Every ``NN_name.py`` notebook in ``folder`` (default: the repository's ``notebooks/``), in order."""
    folder = folder or notebooks_dir()
    return sorted(p for p in folder.glob("*.py") if _NUMBERED.match(p.name))


def number(path: Path) -> str:
    return path.name[:2]


def parameters(path: Path) -> dict[str, Any]:
    """The defaults in the notebook's ``# %% tags=["parameters"]`` cell, read without executing anything."""
    text = path.read_text()
    m = re.search(r'^# %% tags=\["parameters"\]\n(.*?)(?=^# %%|\Z)', text, flags=re.S | re.M)
    if not m:
        raise InvalidConfigError(f"{path.name} has no parameters cell (`# %% tags=[\"parameters\"]`).")
    params: dict[str, Any] = {}
    for node in ast.parse(m.group(1)).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name):
                try:
                    params[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    params[target.id] = None  # computed default: any type accepted
    return params


def validate_parameters(path: Path, given: dict[str, Any]) -> None:
    """Unknown names, values whose type differs from the default's, and a negative number where the default is a
    count (an int >= 0; layers excepted) raise InvalidConfigError naming the fix."""
    if not isinstance(given, dict):
        raise InvalidConfigError(f"{path.name}: parameters must be a mapping of name to value, got"
                                 f" {type(given).__name__}.")
    defaults = parameters(path)
    for key, value in given.items():
        if key not in defaults:
            raise InvalidConfigError(f"{path.name} has no parameter {key!r}; its parameters are {sorted(defaults)}.")
        d = defaults[key]
        if d is None or value is None:
            continue
        ok = isinstance(value, type(d)) or (isinstance(d, float) and isinstance(value, int) and not isinstance(value, bool))
        if isinstance(d, bool) != isinstance(value, bool):
            ok = False
        if not ok:
            raise InvalidConfigError(
                f"{path.name}: parameter {key}={value!r} is a {type(value).__name__}, but its default {d!r} is a"
                f" {type(d).__name__}. Pass a {type(d).__name__}."
            )
        # e.g. MAX_PAIRS -1 for "all" would drop the last pair; a layer may count from the last (-1)
        if type(d) is int and d >= 0 and type(value) is int and value < 0 and "LAYER" not in key:
            raise InvalidConfigError(f"{path.name}: parameter {key}={value} is negative, but it is a count (default"
                                     f" {d}): pass 0 or more (the notebook says what 0 means).")


def expected_figures(path: Path) -> list[str]:
    """``NN_name`` of every figure the notebook saves (read from its ``save_fig(fig, NN, "name")`` calls)."""
    return sorted({f"{int(n):02d}_{name}" for n, name in _SAVE_FIG.findall(path.read_text())})


@contextlib.contextmanager
def _env(var: str, value: str | None) -> Iterator[None]:
    """Set ``var`` for the kernels started inside the block (they inherit this process's environment)."""
    old = os.environ.get(var)
    if value is not None:
        os.environ[var] = value
    try:
        yield
    finally:
        if value is not None:
            if old is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = old


def run_notebook(path: Path, out_dir: Path, parameters: dict[str, Any] | None = None, kernel_name: str = "python3",
                 timeout: int = 1800, figures_to: Path | None = None) -> Path:
    """Execute ``path`` (a percent ``.py``) with papermill; returns the executed ``.ipynb`` in ``out_dir``.

    ``figures_to``: the folder the notebook's ``save_fig`` calls write to (default: ``RLMETA_FIGURES`` or
    ``<results>/figures``).
    """
    import jupytext
    import papermill as pm

    parameters = dict(parameters or {})
    validate_parameters(path, parameters)
    out_dir = ensure_dir(out_dir)
    src = out_dir / f"{path.stem}.input.ipynb"
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": kernel_name, "language": "python", "display_name": kernel_name}
    nb.metadata.setdefault("language_info", {"name": "python"})
    jupytext.write(nb, src)
    dest = out_dir / f"{path.stem}.ipynb"
    try:
        with _env("RLMETA_FIGURES", None if figures_to is None else str(figures_to)):
            pm.execute_notebook(str(src), str(dest), parameters=parameters, kernel_name=kernel_name,
                                language="python", cwd=str(path.parent), execution_timeout=timeout,
                                progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as e:
        raise NotebookFailedError(
            f"{path.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}. The executed notebook, with the"
            f" traceback, is {dest}."
        ) from e
    finally:
        src.unlink(missing_ok=True)
    return dest


def figure_parameters(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Parameters of the figures of record per notebook stem (``notebooks/figures_params.json``), each validated."""
    path = path or notebooks_dir() / "figures_params.json"
    if not path.exists():
        return {}
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise InvalidConfigError(f"{path} must hold an object of notebook name -> parameters, got {type(raw).__name__}.")
    data = {k: v for k, v in raw.items() if not k.startswith("_")}
    known = {p.stem: p for p in discover(path.parent)}
    for stem, params in data.items():
        if stem not in known:
            raise InvalidConfigError(f"{path.name} names {stem!r}, which is not a notebook; known: {sorted(known)}.")
        validate_parameters(known[stem], params)
        _check_pair_names(path, stem, params.get("PAIRS"))
    return data


def _check_pair_names(path: Path, stem: str, pairs: Any) -> None:
    """The ``PAIRS`` a figure of record names must be models some zoo preset designs: a misspelt name would only fail
    inside that notebook's kernel, after the notebooks before it had run."""
    if not pairs:
        return
    from .organism.zoo import PRESETS, preset_specs

    designed = {s.name for name in PRESETS for s in preset_specs(name)}
    unknown = [p for p in pairs if not isinstance(p, str) or p not in designed]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), designed, n=3)
        raise InvalidConfigError(f"{path.name}: {stem}'s PAIRS names {unknown}, which no zoo preset designs"
                                 + (f" (did you mean {', '.join(close)}?)" if close else "") + ".")


def write_figure_index(folder: Path | None = None) -> Path:
    """``figures/README.md``: one line per figure, from the caption sidecars ``save_fig`` writes: the notebooks'
    figures, then those ``rlmeta-interp validate`` writes beside its committed table (sidecars ``validation_*.json``
    that name a figure; the table's own JSON files name none)."""
    folder = folder or record_figures_dir()
    sidecars = sorted(folder.glob("[0-9][0-9]_*.json"))
    if not sidecars:
        raise EmptyInputError(f"No figures in {folder}: run `rlmeta-interp figures` first.")
    lines = ["# Figures of record", "", "Regenerate with `rlmeta-interp figures`: every notebook runs with the parameters in"
             " `notebooks/figures_params.json`, its defaults otherwise. Those parameters name the models each notebook"
             " reads: shipped models for some, models built locally for the others; the file's `_about` says which, and"
             " gives the commands that build them.", "",
             "| figure | notebook | what it shows |", "|---|---|---|"]
    nbs = {number(p): p.name for p in discover()}
    for sc in sidecars:
        meta = read_json(sc)
        nb = nbs.get(meta.get("notebook", ""), meta.get("notebook", ""))
        lines.append(f"| [{meta['figure']}]({meta['figure']}.png) | `{nb}` | {meta.get('caption', '')} |")
    validation = [m for m in (read_json(sc) for sc in sorted(folder.glob("validation_*.json"))) if "figure" in m]
    if validation:
        lines += ["", "Written by `rlmeta-interp validate` beside the committed validation table:",
                  "", "| figure | what it shows |", "|---|---|"]
        lines += [f"| [{m['figure']}]({m['figure']}.png) | {m.get('caption', '')} |" for m in validation]
    return write_text_atomic(folder / "README.md", "\n".join(lines) + "\n")


@dataclass(frozen=True)
class FiguresRun:
    """What :func:`run_figures` did: where the figures went, the index, and the notebooks that ran or failed."""

    figures: Path
    index: Path
    executed: Path
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def run_figures(only: Sequence[str] = (), *, defaults: bool = False, smoke: bool = False,
                kernel_name: str = "rlmeta-interp", out_dir: Path | None = None,
                folder: Path | None = None) -> FiguresRun:
    """The job behind ``rlmeta-interp figures``: run the notebooks and rewrite the figures of record and their index.

    Each notebook runs with its entry in ``notebooks/figures_params.json`` (``defaults=True``: its own defaults; the
    full paper zoo). Full runs write into :func:`record_figures_dir` (the repository's ``figures/``); ``smoke=True``
    runs write into :func:`figures_dir` instead, so a quick check never replaces a figure of record. ``only``: notebook
    numbers or stems. Executed notebooks go to ``out_dir`` (default ``<results>/notebooks``). ``folder``: where the
    notebooks are (default: the shipped ones).
    """
    folder = folder or notebooks_dir()
    paths = discover(folder)
    if only:
        paths = [p for p in paths if number(p) in only or p.stem in only]
        if not paths:
            raise InvalidConfigError(f"No notebook matches {list(only)}; give numbers such as 00 or stems such as"
                                     f" {discover(folder)[0].stem if discover(folder) else '00_quickstart'}.")
    target = figures_dir() if smoke else record_figures_dir()
    out = ensure_dir(out_dir or results_dir() / "notebooks")
    overrides = {} if defaults or smoke else figure_parameters(folder / "figures_params.json")
    run = FiguresRun(figures=target, index=target / "README.md", executed=out)
    for p in paths:
        params = {"SMOKE": True} if smoke else dict(overrides.get(p.stem, {}))
        log.info("running %s with %s", p.name, params or "its defaults")
        try:
            run_notebook(p, out, params, kernel_name=kernel_name, figures_to=target)
            run.ok.append(p.name)
        except NotebookFailedError as e:
            run.failed[p.name] = str(e)
    write_figure_index(target)
    return run


# ------------------------------------------------------------------------------------------ steering widget
@dataclass
class SteerTarget:
    """One model the steering widget can steer.

    ``model`` and ``vector`` may each be a zero-argument function, called once on first use (so a large model such
    as Gemma-3-270M is loaded, and its vector fitted, only when someone picks it). ``layers``: the layers the vector
    covers; ``describe(completion)``: a short reading of a completion (for example its format); ``examples``: prompts
    offered in the prompt box (any other text may be typed).
    """

    model: Any
    vector: Any
    layers: Sequence[int]
    default_layer: int | None = None
    max_new_tokens: int = 32
    describe: Any = None
    examples: Sequence[str] = ()

    def resolved(self) -> tuple[Any, Any]:
        if callable(self.model) and not hasattr(self.model, "tl"):
            self.model = self.model()
        if callable(self.vector) and not hasattr(self.vector, "layers"):
            self.vector = self.vector()
        return self.model, self.vector


@dataclass(frozen=True)
class SteeredText:
    """A prompt's greedy completion unsteered and steered, with each one's reading."""

    prompt: str
    layer: int
    multiplier: float
    unsteered: str
    steered: str
    unsteered_reading: str = ""
    steered_reading: str = ""

    def html(self) -> str:
        import html

        def row(name: str, text: str, reading: str) -> str:
            note = f" <i>({html.escape(reading)})</i>" if reading else ""
            return f"<tr><td>{name}</td><td><code>{html.escape(text)}</code>{note}</td></tr>"

        return (f"<table><tr><td>prompt</td><td><code>{html.escape(self.prompt)}</code></td></tr>"
                + row("unsteered", self.unsteered, self.unsteered_reading)
                + row(f"layer {self.layer}, multiplier {self.multiplier:+.2f}", self.steered, self.steered_reading)
                + "</table>")


def steer_text(target: SteerTarget, prompt: str, layer: int, multiplier: float) -> SteeredText:
    """Greedy completion of any ``prompt`` by ``target``'s model, unsteered and with its vector at ``layer``."""
    from .experiments.quickstart import steered_completion

    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidConfigError("The prompt is empty: type a prompt (for an arithmetic organism, e.g. `6+1-2=`).")
    if layer not in list(target.layers):
        raise InvalidConfigError(f"Layer {layer} has no steering vector; choose one of {list(target.layers)}.")
    model, vector = target.resolved()
    plain = steered_completion(model, prompt, vector, layer, 0.0, max_new_tokens=target.max_new_tokens)
    steered = steered_completion(model, prompt, vector, layer, float(multiplier), max_new_tokens=target.max_new_tokens)
    read = target.describe or (lambda _text: "")
    return SteeredText(prompt, layer, float(multiplier), plain, steered, read(plain), read(steered))


def steering_widget(targets: dict[str, SteerTarget], multiplier: float = 1.0) -> Any:
    """A live steering panel: pick a model, type any prompt, choose layer and multiplier, press *steer*.

    Returns an ``ipywidgets.VBox``; the result appears in its last child (an ``HTML`` widget). Nothing runs until
    the button is pressed, so a headless run of the notebook leaves it inert.
    """
    import ipywidgets as widgets

    if not targets:
        raise EmptyInputError("steering_widget needs at least one SteerTarget.")
    names = list(targets)
    pick = widgets.Dropdown(options=names, value=names[0], description="model")
    prompt = widgets.Combobox(placeholder="type any prompt, or pick an example", description="prompt",
                              ensure_option=False, layout=widgets.Layout(width="70%"))
    layer = widgets.Dropdown(description="layer")
    mult = widgets.FloatSlider(value=multiplier, min=-4.0, max=4.0, step=0.25, description="multiplier")
    button = widgets.Button(description="steer", button_style="primary")
    result = widgets.HTML()

    def on_model(_change: Any = None) -> None:
        t = targets[pick.value]
        prompt.options = tuple(t.examples)
        prompt.value = t.examples[0] if t.examples else ""
        layer.options = list(t.layers)
        layer.value = t.default_layer if t.default_layer in t.layers else list(t.layers)[0]

    def on_click(_button: Any = None) -> None:
        import html

        result.value = "<i>generating...</i>"
        try:
            result.value = steer_text(targets[pick.value], prompt.value, layer.value, mult.value).html()
        except RlmetaError as e:  # bad input: say what to change, keep the panel usable
            result.value = f"<b>{html.escape(str(e))}</b>"

    pick.observe(on_model, names="value")
    button.on_click(on_click)
    on_model()
    return widgets.VBox([pick, prompt, widgets.HBox([layer, mult, button]), result])
