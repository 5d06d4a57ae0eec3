"""The course's static site: the executed notebooks, a landing page and a results page.

    python -m coursekit site                   # the newest, most complete set of executed notebooks
    python -m coursekit site --profile smoke   # the copies in build/notebooks/smoke/

Nothing is executed here. Sphinx with myst-nb renders the copies that ``coursekit run``
(or the notebook tests) left in ``build/notebooks/<profile>/``, and the results page is
written from the results files in ``claims.results_dir()``. The build stages ``docs/``
(configuration, landing page, templates, static files) in ``build/site-src/`` together
with the notebooks and the generated pages, and writes the site to ``build/site/`` with
warnings treated as errors. MathJax 3 is vendored from npm into ``build/vendor/`` so that
math renders without a network.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from coursekit import claims
from coursekit.claims import PROFILES
from coursekit.references import REFERENCES, Reference, data_key, references_for
from coursekit.runner import BUILD, NOTEBOOKS, REPO, course_notebooks

DOCS = REPO / "docs"
SITE = BUILD / "site"
STAGE = BUILD / "site-src"
VENDOR = BUILD / "vendor"
MATHJAX = "mathjax@3.2.2"  # the npm package; its es5/ folder is what a browser loads


# --- which executed notebooks ---------------------------------------------------------


def executed(profile: str, notebooks: list[Path]) -> list[Path]:
    """The executed copies of ``notebooks`` that ``profile``'s folder holds, in order."""
    folder = BUILD / "notebooks" / profile
    return [folder / nb.name for nb in notebooks if (folder / nb.name).is_file()]


def choose_profile(requested: str | None, notebooks: list[Path]) -> str:
    """``requested``, or the profile whose executed copies are the most complete, then newest."""
    if requested:
        if not executed(requested, notebooks):
            raise ValueError(
                f"no executed notebooks in {BUILD / 'notebooks' / requested}; run "
                f"`python -m coursekit run --profile {requested}` first"
            )
        return requested
    ranked = []
    for profile in PROFILES:
        copies = executed(profile, notebooks)
        if copies:
            ranked.append((len(copies), max(p.stat().st_mtime for p in copies), profile))
    if not ranked:
        raise ValueError(
            f"no executed notebooks in {BUILD / 'notebooks'}; run `make course` or "
            "`python -m coursekit run --profile smoke` first"
        )
    return max(ranked)[2]


# --- MathJax, served from the site itself ---------------------------------------------


def vendor_mathjax() -> Path:
    """A folder holding ``mathjax/`` (MathJax 3's es5 build), for html_static_path.

    The npm package is installed once into ``build/vendor/`` (npm, not node_modules in
    the repository); later builds reuse the copy.
    """
    static = VENDOR / "static"
    if (static / "mathjax" / "tex-mml-chtml.js").is_file():
        return static
    package = VENDOR / "node_modules" / "mathjax"
    if not (package / "es5").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "the site ships MathJax 3 from npm, and npm is not installed: "
                "apt-get install npm (or install Node.js), then build again"
            )
        VENDOR.mkdir(parents=True, exist_ok=True)
        print(f"vendoring {MATHJAX} into {VENDOR} ...", flush=True)
        subprocess.run(
            [npm, "install", "--prefix", str(VENDOR), "--no-save", "--no-audit", "--no-fund"]
            + ["--loglevel=error", MATHJAX],
            check=True,
        )
    version = json.loads((package / "package.json").read_text())["version"]
    if not version.startswith("3."):
        raise RuntimeError(f"{package} is MathJax {version}; the site needs MathJax 3")
    tmp = static / "mathjax.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(package / "es5", tmp)
    shutil.copy2(package / "LICENSE", tmp / "LICENSE")
    tmp.replace(static / "mathjax")
    return static


# --- generated pages --------------------------------------------------------------------


def _escape(text: object) -> str:
    """Plain text for a Markdown table cell: every ASCII punctuation mark escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", str(text)).replace("\n", " ")


def _number(x: object, unit: str = "") -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return _escape(x)
    return _escape(f"{x:.4g} {unit}".strip())


def describe(notebook: Path) -> tuple[str, str]:
    """A notebook's title (its first heading) and first paragraph, as Markdown."""
    nb = nbformat.read(notebook, as_version=4)
    text = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    title, paragraphs = notebook.stem, []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if block.startswith("# ") and title == notebook.stem:
            first, _, rest = block.partition("\n")
            title, block = first[2:].strip(), rest.strip()
        if block and not block.startswith("#"):
            paragraphs.append(block)
    summary = paragraphs[0] if paragraphs else ""
    summary = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", summary)  # images
    summary = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", summary)  # links: they were relative
    summary = re.sub(r"\[\^[^\]]*\]", "", summary)  # footnote references
    return title, whole_sentences(" ".join(summary.split()))


def whole_sentences(text: str) -> str:
    """The first paragraph as a summary that ends at a sentence's end. It often leads into a
    list: a last sentence that is a whole clause ("This notebook measures ... and why:") ends
    with a full stop instead of the colon; a stub ("This notebook:", "Two landmark results:")
    or a sentence cut off by the list ("A VAE is") is left out."""
    end = r"[.!?][)\]\"'*_]*"
    if re.search(end + "$", text):
        return text
    ends = [m.end() for m in re.finditer(end + r"(?=\s)", text)]
    last = text[ends[-1] :] if ends else text
    if text.endswith(":") and len(last.split()) >= 5:
        return text[:-1] + "."
    return text[: ends[-1]] if ends else text


def contents_page(notebooks: list[Path], pages: list[Path], profile: str) -> str:
    on_site = {p.name for p in pages}
    lines = []
    for nb in notebooks:
        title, summary = describe(nb)
        line = f"- [**{_escape(title)}**](notebooks/{nb.name}): {summary}"
        if nb.name not in on_site:
            line += f" *(shown without outputs: no executed copy in the {profile} profile yet)*"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _bar(check: dict) -> str:
    unit = check.get("unit") or ""
    if check.get("form") == "close":
        return f"{_number(check.get('expected'))} ± {_number(check.get('tolerance'), unit)}"
    relation = "≥" if check.get("form") == "at_least" else "≤"
    return f"{relation} {_number(check.get('bar'), unit)}"


def _ref_link(ref: Reference) -> str:
    return f"[{_escape(ref.source)}]({ref.url})"


def read_results(notebooks: list[Path], folder: Path) -> dict[str, dict | None]:
    """Each notebook's results file in ``folder``, or None where it has none."""
    recorded = {}
    for nb in notebooks:
        path = folder / f"{nb.stem}.json"
        recorded[nb.stem] = json.loads(path.read_text()) if path.is_file() else None
    return recorded


def results_page(notebooks: list[Path], recorded: dict[str, dict | None], folder: Path) -> str:
    """The results page, as MyST Markdown, from the results read from ``folder``."""
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
            out.append(f"| {_escape(nb.stem)} | | | | | no results recorded |")
            continue
        passed, total = data.get("checks_passed", 0), data.get("checks_total", 0)
        status = "all passed" if passed == total and total else "**FAILED**"
        out.append(
            f"| [{_escape(nb.stem)}](#{_anchor(nb.stem)}) | {_escape(data.get('profile', '?'))} "
            f"| {_escape(data_key(data) if data.get('data') else 'its own')} "
            f"| {_escape(data.get('device_name') or data.get('device', '?'))} "
            f"| {_number(data.get('wall_time_s', '?'), 's')} | {passed} / {total}, {status} |"
        )
    for nb in notebooks:
        data = recorded[nb.stem]
        title, _ = describe(nb)
        refs = references_for(nb.stem)
        out += ["", f"({_anchor(nb.stem)})=", f"## {_escape(title)}", ""]
        links = f"The notebook: [{_escape(nb.stem)}](notebooks/{nb.name})"
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
                f"- {_escape(r.quantity)}: {_escape(r.value)} ({_ref_link(r)})" for r in unmatched
            ]
        other = [r for r in refs if r not in same]
        if other and data is not None:
            out += [
                "",
                f"Published on other data ({_escape(', '.join(sorted({r.dataset for r in other})))}"
                f"; this run used {_escape(data_key(data))}), so not set beside it:",
                "",
            ]
            out += [f"- {_escape(r.quantity)}: {_escape(r.value)} ({_ref_link(r)})" for r in other]
    out += [
        "",
        "## Published references",
        "",
        "The published numbers the course compares with, keyed by topic in "
        "`coursekit/site.py` (`REFERENCES`).",
        "",
        "| topic | what | data | published | source | notebooks |",
        "|---|---|---|---|---|---|",
    ]
    for key, refs in REFERENCES.items():
        users = [nb.stem for nb in notebooks if any(r in references_for(nb.stem) for r in refs)]
        for ref in refs:
            out.append(
                f"| {_escape(key)} | {_escape(ref.quantity)} | {_escape(ref.dataset or 'its own')} "
                f"| {_escape(ref.value)} "
                f"| {_ref_link(ref)} | {_escape(', '.join(users) or 'none yet')} |"
            )
    return "\n".join(out) + "\n"


def _anchor(stem: str) -> str:
    return "results-" + stem.replace("_", "-")


def _check_names(data: dict) -> set[str]:
    return {c.get("name") for c in data.get("checks", [])}


def _notebook_results(data: dict, refs: list[Reference]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in (data.get("versions") or {}).items())
    out = [
        f"- **profile** {_escape(data.get('profile', '?'))}, **seed** "
        f"{_escape(data.get('seed', '?'))}, **device** "
        f"{_escape(data.get('device_name') or data.get('device', '?'))}",
        f"- **wall time** {_number(data.get('wall_time_s', '?'), 's')}, run at "
        f"{_escape(data.get('started_at', '?'))}",
    ]
    if data.get("data"):
        out.append(f"- **data** {_escape(data['data'].get('source', data_key(data)))}")
    if versions:
        out.append(f"- **versions** {_escape(versions)}")
    timings = data.get("timings_s") or {}
    if timings:
        out.append(
            "- **timings** "
            + ", ".join(f"{_escape(k)} {_number(v, 's')}" for k, v in timings.items())
        )
    metrics = data.get("metrics") or {}
    if metrics:
        out.append(
            "- **other recorded numbers** "
            + ", ".join(f"{_escape(k)} {_number(v)}" for k, v in metrics.items())
        )
    by_check = {r.check: r for r in refs if r.check and r.applies_to(data)}
    out += [
        "",
        "| check | kind | measured | bar | result | published |",
        "|---|---|---|---|---|---|",
    ]
    for check in data.get("checks", []):
        ref = by_check.get(check.get("name"))
        published = f"{_escape(ref.value)} ({_ref_link(ref)})" if ref else ""
        result = "pass" if check.get("passed") else "**FAIL**"
        out.append(
            f"| {_escape(check.get('name'))} | {_escape(check.get('kind', 'measured'))} "
            f"| {_number(check.get('value'), check.get('unit') or '')} "
            f"| {_bar(check)} | {result} | {published} |"
        )
    if not data.get("checks"):
        out.append("| (no checks recorded) | | | | | |")
    return out


# --- the build ------------------------------------------------------------------------


def stage(profile: str, notebooks: list[Path], repo_url: str, branch: str) -> list[Path]:
    """Fill ``build/site-src/``; return the executed copies that became pages.

    Every notebook under ``notebooks/`` becomes a page, so that links between them hold:
    a course notebook from its executed copy, or as stored (no outputs) where the profile
    has none; a task notebook (``notebooks/tasks/``, run by another notebook) as stored,
    as a page outside the navigation.
    """
    if not (DOCS / "conf.py").is_file():
        raise ValueError(f"{DOCS / 'conf.py'} is missing: the site's configuration lives there")
    pages = executed(profile, notebooks)
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(DOCS, STAGE, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    # images and other files the notebooks link to, at the same relative paths
    shutil.copytree(
        NOTEBOOKS,
        STAGE / "notebooks",
        # (not .md or .rst files: Sphinx would take them for pages outside the navigation)
        ignore=shutil.ignore_patterns(
            "*.ipynb", "*.md", "*.rst", ".ipynb_checkpoints", "__pycache__"
        ),
    )
    (STAGE / "_generated").mkdir()
    copies = {p.name: p for p in pages}
    course = {nb.name for nb in notebooks}
    for source in sorted(NOTEBOOKS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in source.parts:
            continue
        relative = source.relative_to(NOTEBOOKS)
        # the download a learner runs: the notebook as stored, without this run's outputs
        download = STAGE / "_extra" / "notebooks" / relative
        download.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, download)
        if source.name in copies and source.parent == NOTEBOOKS:
            shutil.copy2(copies[source.name], STAGE / "notebooks" / relative)
            continue
        nb = nbformat.read(source, as_version=4)
        if not (source.name in course and source.parent == NOTEBOOKS):
            nb.metadata["orphan"] = True  # a page reached by links, not in the navigation
        nbformat.write(nb, STAGE / "notebooks" / relative)
    (STAGE / "_generated" / "contents.md").write_text(contents_page(notebooks, pages, profile))
    # the results as read for this build, also published as results/<notebook>.json
    recorded = read_results(notebooks, claims.results_dir())
    (STAGE / "_extra" / "results").mkdir()
    for stem, data in recorded.items():
        if data is not None:
            (STAGE / "_extra" / "results" / f"{stem}.json").write_text(json.dumps(data, indent=2))
    (STAGE / "results.md").write_text(results_page(notebooks, recorded, claims.results_dir()))
    info = {
        "profile": profile,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "repo_url": repo_url,
        "branch": branch,
        "static_vendor": str(vendor_mathjax()),
        "executed": [f"notebooks/{p.stem}" for p in pages],
    }
    (STAGE / "_site.json").write_text(json.dumps(info, indent=2) + "\n")
    return pages


def build(
    profile: str | None = None, repo_url: str = "", branch: str = "main", out: Path = SITE
) -> Path:
    """Build the site and return its index.html. Raises on any Sphinx warning."""
    start = time.perf_counter()
    notebooks = course_notebooks()
    profile = choose_profile(profile, notebooks)
    pages = stage(profile, notebooks, repo_url, branch)
    missing = sorted({nb.stem for nb in notebooks} - {p.stem for p in pages})
    print(
        f"site: {len(pages)} of {len(notebooks)} notebooks executed in "
        f"{BUILD / 'notebooks' / profile}"
        + (f"; shown without outputs: {', '.join(missing)}" if missing else ""),
        flush=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q"]
    command += ["-d", str(BUILD / "site-doctrees"), str(STAGE), str(out)]
    done = subprocess.run(command)
    if done.returncode:
        raise RuntimeError(
            f"the site build failed (sphinx exit code {done.returncode}): the problems are "
            "listed above; warnings count as errors (a broken link, a missing image)"
        )
    print(f"site: built in {time.perf_counter() - start:.1f} s", flush=True)
    return out / "index.html"
