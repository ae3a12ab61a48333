"""The Markdown table and the bar chart of a benchmark run (the plain data that ``run.py`` stores in latest.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .workloads import FLOOR, LIBRARIES

MIB = 2**20
# (row key, target of issue 5, 10, 12 or 14, test on (chainrule, floor, torch) medians[, the chainrule column when not
# "chainrule"]). W6 targets are checked separately.
TARGETS = (
    ("W1-b128", "W1 batch 128: ≤ 1.05× hand-written NumPy", lambda c, f, t: c / f, 1.05, "×"),
    ("W1-b1024", "W1 batch 1024: ≤ 1.05× hand-written NumPy", lambda c, f, t: c / f, 1.05, "×"),
    ("W2", "W2: ≤ 2 µs per node", lambda c, f, t: c, 2.0, " µs/node"),
    ("W3", "W3: ≤ 1.2× hand-written NumPy (float32)", lambda c, f, t: c / f, 1.2, "×"),
    ("W3-f64", "W3: ≤ 1.2× hand-written NumPy (float64)", lambda c, f, t: c / f, 1.2, "×"),
    ("W4-n100", "W4 n = 100: ≤ torch.func.hessian", lambda c, f, t: c / t, 1.0, "× torch"),
    ("W4-n300", "W4 n = 300: ≤ torch.func.hessian", lambda c, f, t: c / t, 1.0, "× torch"),
    ("W5", "W5: depth 100,000 in ≤ 600 ms", lambda c, f, t: c, 600.0, " ms"),
    ("W4-n300", "W4 n = 300: ≤ 2.5× the Hessian written by hand in NumPy", lambda c, f, t: c / f, 2.5, "×"),
    ("W1-tiny", "W1 tiny through `cr.nn`: ≤ 2× hand-written NumPy", lambda c, f, t: c / f, 2.0, "×", "chainrule-nn"),
    ("W7", "W7 char transformer step: ≤ 1.3× torch eager", lambda c, f, t: c / t, 1.3, "× torch", "chainrule-nn"),
    ("W8", "W8 LSTM: ≤ 1.5× torch eager", lambda c, f, t: c / t, 1.5, "× torch", "chainrule-nn"),
    ("W9-n300", "W9 n = 300: ≤ 1.3× hand-written NumPy", lambda c, f, t: c / f, 1.3, "×"),
    ("W9-n1000", "W9 n = 1000: ≤ 1.3× hand-written NumPy", lambda c, f, t: c / f, 1.3, "×"),
)
FLOOR_NOTE = ("floor: hand-written NumPy (W1 forward + backward + SGD, W3 derivative by hand), the Hessian written by "
              "hand in NumPy (W4), a bare Python tape on floats (W2, W5), `import numpy` (W6), the GP gradient by "
              "hand in NumPy and SciPy (W9)")


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _short(error: str) -> str:
    return error.split(":", 1)[0] if error.split(":", 1)[0].isidentifier() else "failed"


def _columns(results: dict[str, Any]) -> list[str]:
    used = {lib for row in results["rows"] for lib in row["libs"]}
    if results["imports"]:
        used |= {lib for lib in results["imports"] if lib != "python"}
    return [lib for lib in LIBRARIES if lib in used]


def _label(lib: str) -> str:
    return LIBRARIES[lib].label


def _time_rows(results: dict[str, Any], short: bool = False) -> list[tuple[str, str, dict[str, dict]]]:
    """(label, unit, {lib: {"median", "error", "agrees"}}) for every timed row, W6 import times included."""
    rows = [(row["short" if short else "title"], row["unit"], row["libs"]) for row in results["rows"]]
    if results["imports"]:
        imports = {lib: entry for lib, entry in results["imports"].items() if lib != "python"}
        label = "W6 import\n(with python)" if short else 'W6 `python -c "import X"` (interpreter included)'
        rows.append((label, "ms", imports))
    return rows


def _spread(results: dict[str, Any]) -> float | None:
    """The median, over all cells, of max/min − 1 of the rounds: how noisy the machine was."""
    spreads = [max(e["rounds"]) / min(e["rounds"]) - 1 for row in results["rows"] for e in row["libs"].values()
               if len(e.get("rounds") or ()) > 1 and min(e["rounds"]) > 0]
    spreads.sort()
    return spreads[len(spreads) // 2] if spreads else None


def _cell(entry: dict | None, floor: float | None, is_floor: bool) -> str:
    if entry is None:
        return "—"
    if entry.get("error"):
        return _short(entry["error"])
    text = _number(entry["median"])
    if not is_floor and floor:
        text += f" ({_number(entry['median'] / floor)}×)"
    if entry.get("agrees") is False:
        text += " ✗"
    return text


def _agreement(entries: dict[str, dict]) -> str:
    checked = {lib: e.get("agrees") for lib, e in entries.items() if e.get("agrees") is not None}
    if not checked:
        return "—"
    wrong = [lib for lib, ok in checked.items() if not ok]
    return f"✗ {', '.join(wrong)}" if wrong else f"✓ {len(checked)}"


def _median(entries: dict[str, dict], lib: str) -> float | None:
    entry = entries.get(lib)
    return entry["median"] if entry and not entry.get("error") else None


def _memory_rows(results: dict[str, Any], columns: list[str]) -> list[str]:
    lines = []
    for row in results["rows"]:
        if row["id"] != "W1":
            continue
        cells = [_number(row["libs"][lib]["maxrss"] / MIB) if row["libs"].get(lib, {}).get("maxrss") else "—"
                 for lib in columns]
        lines.append(f"| W1 peak memory of the process (ru_maxrss), batch {row['params']['batch']} | MiB | "
                     + " | ".join(cells) + " | |")
    return lines


def _targets(results: dict[str, Any]) -> list[str]:
    rows = {row["key"]: row["libs"] for row in results["rows"]}
    lines = ["| target | measured | met |", "|---|---|---|"]
    for key, text, measure, limit, unit, *lib in TARGETS:
        if key not in rows:
            continue
        c, f, t = (_median(rows[key], name) for name in (lib[0] if lib else "chainrule", FLOOR, "torch"))
        if c is None or (f is None and "NumPy" in text) or (t is None and "torch" in text):
            lines.append(f"| {text} | not measured | — |")
            continue
        value = measure(c, f, t)
        lines.append(f"| {text} | {_number(value)}{unit} | {'yes' if value <= limit else 'no'} |")
    for key in ("W3", "W3-f64"):  # the user's own NumPy code must not slow down after `import chainrule`
        after, floor = (_median(rows.get(key, {}), lib) for lib in ("numpy-after-chainrule", FLOOR))
        if after is not None and floor is not None:
            value = after / floor
            lines.append(f"| {key}: hand-written NumPy after `import chainrule` ≤ 1.05× without | {_number(value)}× | "
                         f"{'yes' if value <= 1.05 else 'no'} |")
    imports = results["imports"] or {}
    if imports.get("chainrule", {}).get("median"):
        value = imports["chainrule"]["median"]
        lines.append(f"| W6: `import chainrule` ≤ 150 ms | {_number(value)} ms | {'yes' if value <= 150 else 'no'} |")
    rss = rows.get("W1-b128", {}).get("chainrule", {}).get("maxrss")
    if rss:
        lines.append(f"| W6: W1 process peak memory ≤ 100 MiB (batch 128) | {_number(rss / MIB)} MiB | "
                     f"{'yes' if rss <= 100 * MIB else 'no'} |")
    return lines


def _checksums(results: dict[str, Any]) -> list[str]:
    lines = ["| workload | reference | its checksum | rtol | disagreeing libraries |", "|---|---|---|---|---|"]
    for row in results["rows"]:
        reference = row["reference"]
        if reference is None:
            continue
        numbers = ", ".join(f"{v:.10g}" for v in row["libs"][reference]["checksum"])
        wrong = [f"{lib}: " + ", ".join(f"{v:.10g}" for v in e["checksum"])
                 for lib, e in row["libs"].items() if e.get("agrees") is False]
        lines.append(f"| {row['key']} | {reference} | {numbers} | {row['rtol']:g} | {'; '.join(wrong) or 'none'} |")
    return lines


def disagreements(results: dict[str, Any]) -> list[str]:
    """One line per library whose checksum differs from the reference of its row."""
    return [f"{row['key']}: {lib} {entry['checksum']} vs {row['reference']} {row['libs'][row['reference']]['checksum']}"
            for row in results["rows"] for lib, entry in row["libs"].items() if entry.get("agrees") is False]


def markdown(results: dict[str, Any]) -> str:
    """The report: header (date, machine, versions, settings), times, chainrule ÷ peers, targets, checksums."""
    machine, versions, settings = results["machine"], results["versions"], results["settings"]
    columns = _columns(results)
    peers = [lib for lib in columns if lib != "chainrule"]
    installed = ", ".join(f"{name} {v}" for name, v in versions.items() if v and name != "python")
    lines = [
        "# chainrule benchmarks" + (" (quick sizes: checks the runner, not the speed)" if settings["quick"] else ""),
        "",
        f"- date: {results['date']}; run took {results['elapsed_seconds']:.0f} s",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['system']}; load average "
        f"{machine['load_before'][0]:.2f} before, {machine['load_after'][0]:.2f} after",
        f"- Python {versions['python']}; {installed}",
        f"- method: each library in its own process with one thread (OMP/MKL/OPENBLAS_NUM_THREADS=1, "
        f"torch.set_num_threads(1), XLA_FLAGS=`{settings['threads']['XLA_FLAGS']}`); checksum and warm-up first; "
        f"then {settings['repeats']} interleaved rounds of ≥ {settings['round_seconds']} s per library (a third, at "
        f"least 3, for calls over 1 s), medians. Ratios in brackets: × the floor, from this run.",
    ]
    spread = _spread(results)
    if spread is not None:
        lines.append(f"- noise: the rounds of a cell spread by {spread:.0%} (median over cells of max/min − 1); "
                     "load average above the core count means other processes shared the cores")
    if results["missing"]:
        lines.append(f"- not installed, skipped: {', '.join(results['missing'])}")
    lines += ["", "## Time (median; in brackets × the floor)", "",
              "| workload | unit | " + " | ".join(_label(lib) for lib in columns) + " | same numbers |",
              "|---|---|" + "---|" * len(columns) + "---|"]
    for label, unit, entries in _time_rows(results):
        floor = _median(entries, FLOOR)
        cells = [_cell(entries.get(lib), floor, lib == FLOOR) for lib in columns]
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + f" | {_agreement(entries)} |")
    lines += _memory_rows(results, columns)
    lines += ["", f"{FLOOR_NOTE}. ✗: the checksum differs from the reference (see below)."]
    if results["imports"] and results["imports"].get("python", {}).get("median"):
        lines.append(f"The interpreter alone (`python -c pass`) takes {_number(results['imports']['python']['median'])}"
                     " ms of each W6 figure.")
    lines += ["", "## chainrule ÷ peer (below 1: chainrule is faster)", "",
              "| workload | " + " | ".join(_label(lib) for lib in peers) + " |", "|---|" + "---|" * len(peers)]
    for label, _, entries in _time_rows(results):
        mine = _median(entries, "chainrule")
        cells = []
        for lib in peers:
            theirs = _median(entries, lib)
            if mine is None or lib not in entries:
                cells.append("—")
            elif theirs is None:
                cells.append(f"({_short(entries[lib]['error'])})")
            else:
                cells.append(_number(mine / theirs))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if not settings["quick"]:
        lines += ["", "## Targets of issue 5 (chainrule)", "", *_targets(results)]
    lines += ["", "## Checksums (numbers every library must reproduce)", "", *_checksums(results), "",
              "W1: the losses of 4 SGD steps from the shared initial weights, then the weights' norm. W2, W5: y and "
              "dy/dx. W3: the value, the gradient's norm and sum. W4: trace, Frobenius norm and sum of H. W7: the "
              "losses of 3 AdamW steps, then the weights' norm. W8: the loss of each of two inputs, then the norm of "
              "each parameter's gradient. W9: the NLML and its gradient.", "",
              "## Notes", "",
              "- jax.jit on W2 and W5 runs the loop as `lax.scan` (a jit of the unrolled 10k-node W2 loop took 82 s "
              "to compile; eager jax.grad took 3–4 s per W2 call, so jax eager is not run on W2 and W5).",
              "- micrograd 0.1.0 (PyPI) has no tanh or exp: W2 adds both in its own style (a closure adding local "
              "derivative · out.grad) and raises the recursion limit to the graph's depth, as its recursive "
              "topological sort needs; W5 keeps the default limit.",
              "- W1 peak memory is the whole worker process (library, data, checksum steps and timed steps)."]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> str:
    """A log-scale bar chart of time ÷ floor per workload, chainrule beside the peers; returns what it did."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib, or chainrule[plot]): no chart written"
    rows = _time_rows(results, short=True)
    libs = [lib for lib in _columns(results) if lib != FLOOR]
    fig, ax = plt.subplots(figsize=(13, 5.5))
    width = 0.85 / max(len(libs), 1)
    for i, lib in enumerate(libs):
        xs, ys = [], []
        for x, (_, _, entries) in enumerate(rows):
            mine, floor = _median(entries, lib), _median(entries, FLOOR)
            position = x + (i - (len(libs) - 1) / 2) * width
            if mine is not None and floor:
                xs.append(position)
                ys.append(mine / floor)
            elif entries.get(lib, {}).get("error"):  # say why a bar is missing
                ax.text(position, 0.03, _short(entries[lib]["error"]), rotation=90, fontsize=7, ha="center",
                        va="bottom", transform=ax.get_xaxis_transform())
        bold = lib.startswith("chainrule")
        ax.bar(xs, ys, width, label=_label(lib), edgecolor="black" if bold else "none", linewidth=1.2 if bold else 0)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_ylabel("time ÷ floor (log scale; floor = 1)")
    ax.set_xticks(range(len(rows)), [label for label, _, _ in rows], fontsize=9)
    ax.set_title(f"chainrule beside its peers, one thread — {results['date']}, {results['machine']['cpu']}",
                 fontsize=10)
    ax.legend(fontsize=9, ncol=len(libs), loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"wrote {path}"
