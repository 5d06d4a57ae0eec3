"""The site's results page: every check of the last recorded run of each notebook.

``results_page`` writes it as MyST Markdown from the results files (``claims.results_dir()``),
one section a notebook: the run's profile, seed, device, data and times, then a table of its
checks, each with its bar, and a published number only beside the same experiment on the same
data (``coursekit.references``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from coursekit.references import REFERENCES, Reference, data_key, references_for
from coursekit.runner import REPO


def escape(text: object) -> str:
    """Plain text for a Markdown table cell: every ASCII punctuation mark escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", str(text)).replace("\n", " ")


def number(x: object, unit: str = "") -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return escape(x)
    return escape(f"{x:.4g} {unit}".strip())


def _bar(check: dict) -> str:
    unit = check.get("unit") or ""
    if check.get("form") == "close":
        return f"{number(check.get('expected'))} ± {number(check.get('tolerance'), unit)}"
    relation = "≥" if check.get("form") == "at_least" else "≤"
    return f"{relation} {number(check.get('bar'), unit)}"


def _ref_link(ref: Reference) -> str:
    return f"[{escape(ref.source)}]({ref.url})"


def read_results(notebooks: list[Path], folder: Path) -> dict[str, dict | None]:
    """Each notebook's results file in ``folder``, or None where it has none."""
    recorded = {}
    for nb in notebooks:
        path = folder / f"{nb.stem}.json"
        recorded[nb.stem] = json.loads(path.read_text()) if path.is_file() else None
    return recorded


def results_page(
    notebooks: list[Path], recorded: dict[str, dict | None], folder: Path, titles: dict[str, str]
) -> str:
    """The results page, as MyST Markdown, from the results read from ``folder``; ``titles``
    holds each notebook's title by its stem."""
    shown = folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder
    out = [
        "# Results",
        "",
        "What each notebook measured and checked in its last recorded run, read from "
        f"`{shown}/`. Every check states a bar: an expected value with a tolerance, or "
        "a bound. The tolerance depends on the run profile: `smoke` runs take few steps and "
        "check loosely, `full` runs check strictly. Where a published number exists for the "
        "same experiment, it is shown next to the check or below the notebook's table.",
        "",
        "| notebook | profile | data | device | wall time | checks passed |",
        "|---|---|---|---|---|---|",
    ]
    for nb in notebooks:
        data = recorded[nb.stem]
        if data is None:
            out.append(f"| {escape(nb.stem)} | | | | | no results recorded |")
            continue
        passed, total = data.get("checks_passed", 0), data.get("checks_total", 0)
        status = "all passed" if passed == total and total else "**FAILED**"
        out.append(
            f"| [{escape(nb.stem)}](#{_anchor(nb.stem)}) | {escape(data.get('profile', '?'))} "
            f"| {escape(data_key(data) if data.get('data') else 'its own')} "
            f"| {escape(data.get('device_name') or data.get('device', '?'))} "
            f"| {number(data.get('wall_time_s', '?'), 's')} | {passed} / {total}, {status} |"
        )
    for nb in notebooks:
        data = recorded[nb.stem]
        title = titles.get(nb.stem, nb.stem)
        refs = references_for(nb.stem)
        out += ["", f"({_anchor(nb.stem)})=", f"## {escape(title)}", ""]
        links = f"The notebook: [{escape(nb.stem)}](notebooks/{nb.name})"
        if data is not None:  # a plain link: the file is copied into the site, not a page
            links += f"; its results file: [{nb.stem}.json](results/{nb.stem}.json){{.external}}"
        out += [links + ".", ""]
        if data is None:
            out += [
                f"No results recorded in `{shown}/` for this notebook: run "
                f"`python -m coursekit run {nb.stem[:2]}`.",
                "",
            ]
        else:
            out += _notebook_results(data, refs)
        same = [r for r in refs if r.applies_to(data)]
        unmatched = [r for r in same if not (data and r.check in _check_names(data))]
        if unmatched:
            out += ["", "Published numbers for the same experiment:", ""]
            out += [
                f"- {escape(r.quantity)}: {escape(r.value)} ({_ref_link(r)})" for r in unmatched
            ]
        other = [r for r in refs if r not in same]
        if other and data is not None:
            out += [
                "",
                f"Published on other data ({escape(', '.join(sorted({r.dataset for r in other})))}"
                f"; this run used {escape(data_key(data))}), so not set beside it:",
                "",
            ]
            out += [f"- {escape(r.quantity)}: {escape(r.value)} ({_ref_link(r)})" for r in other]
    out += [
        "",
        "## Published references",
        "",
        "The published numbers the course compares with, keyed by topic in "
        "`coursekit/references.py` (`REFERENCES`).",
        "",
        "| topic | what | data | published | source | notebooks |",
        "|---|---|---|---|---|---|",
    ]
    # each reference once (one may belong to two topics), with the notebooks it is set beside
    unique = list(dict.fromkeys(ref for refs in REFERENCES.values() for ref in refs))
    for ref in unique:
        topics = [key for key, refs in REFERENCES.items() if ref in refs]
        users = [nb.stem for nb in notebooks if ref in references_for(nb.stem)]
        out.append(
            f"| {escape(', '.join(topics))} | {escape(ref.quantity)} "
            f"| {escape(ref.dataset or 'its own')} | {escape(ref.value)} "
            f"| {_ref_link(ref)} | {escape(', '.join(users) or 'none yet')} |"
        )
    return "\n".join(out) + "\n"


def _anchor(stem: str) -> str:
    return "results-" + stem.replace("_", "-")


def _check_names(data: dict) -> set[str]:
    return {c.get("name") for c in data.get("checks", [])}


def _recorded(name: str, value: object, notebook: str) -> str:
    """A recorded number as text: a mapping as its entries ("name: key value, ..."), a list
    of numbers as the numbers, a table (a list of records) by its size and where it is."""
    if isinstance(value, dict):
        return "; ".join(_recorded(f"{name}: {k}", v, notebook) for k, v in value.items())
    if isinstance(value, list | tuple):
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return f"{escape(name)} " + escape(" to " if len(value) == 2 else ", ").join(
                number(v) for v in value
            )
        return f"{escape(name)}: a table of {len(value)} rows (in {escape(notebook)}.json)"
    return f"{escape(name)} {number(value)}"


def _notebook_results(data: dict, refs: list[Reference]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in (data.get("versions") or {}).items())
    out = [
        f"- **profile** {escape(data.get('profile', '?'))}, **seed** "
        f"{escape(data.get('seed', '?'))}, **device** "
        f"{escape(data.get('device_name') or data.get('device', '?'))}",
        f"- **wall time** {number(data.get('wall_time_s', '?'), 's')}, run at "
        f"{escape(data.get('started_at', '?'))}",
    ]
    if data.get("data"):
        out.append(f"- **data** {escape(data['data'].get('source', data_key(data)))}")
    if versions:
        out.append(f"- **versions** {escape(versions)}")
    timings = data.get("timings_s") or {}
    if timings:
        out.append(
            "- **timings** "
            + ", ".join(f"{escape(k)} {number(v, 's')}" for k, v in timings.items())
        )
    metrics = data.get("metrics") or {}
    if metrics:
        out.append(
            "- **other recorded numbers** "
            + ", ".join(_recorded(k, v, data.get("notebook", "")) for k, v in metrics.items())
        )
    by_check = {r.check: r for r in refs if r.check and r.applies_to(data)}
    out += [
        "",
        "| check | kind | measured | bar | result | published |",
        "|---|---|---|---|---|---|",
    ]
    for check in data.get("checks", []):
        ref = by_check.get(check.get("name"))
        published = f"{escape(ref.value)} ({_ref_link(ref)})" if ref else ""
        result = "pass" if check.get("passed") else "**FAIL**"
        out.append(
            f"| {escape(check.get('name'))} | {escape(check.get('kind', 'measured'))} "
            f"| {number(check.get('value'), check.get('unit') or '')} "
            f"| {_bar(check)} | {result} | {published} |"
        )
    if not data.get("checks"):
        out.append("| (no checks recorded) | | | | | |")
    return out
