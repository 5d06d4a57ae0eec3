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

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from coursekit import bibliography, claims, figures
from coursekit.claims import PROFILES
from coursekit.exercise import BEGIN
from coursekit.results_page import escape, read_results, results_page
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
        line = f"- [**{escape(title)}**](notebooks/{nb.name}): {summary}"
        if nb.name not in on_site:
            line += f" *(shown without outputs: no executed copy in the {profile} profile yet)*"
        lines.append(line)
    return "\n".join(lines) + "\n"


# --- what a page shows ------------------------------------------------------------------

# Cells that are not the lesson: folded on the page ("Show code cell source"), not deleted.
HIDDEN_TAGS = ("parameters", "injected-parameters")


def fold_boilerplate(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag the parameters cells, the ``ck.setup`` cell and each exercise's solution
    ``hide-input``: folded on the page, their outputs shown; a solution's fold says
    "Show solution"."""
    setup_seen = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        is_setup = not setup_seen and "ck.setup(" in cell.source
        setup_seen = setup_seen or is_setup
        solution = BEGIN in cell.source  # an exercise: its solution folded away
        if (
            is_setup or solution or any(t in tags for t in HIDDEN_TAGS)
        ) and "hide-input" not in tags:
            tags.append("hide-input")
        if solution:  # myst-nb's per-cell label for the fold
            cell.metadata.setdefault("mystnb", {}).update(
                code_prompt_show="Show solution", code_prompt_hide="Hide solution"
            )
    return nb


def figure_texts(nb: nbformat.NotebookNode) -> dict[str, dict]:
    """Each figure output's description (``coursekit.figures.describe``) by the sha256 of
    its PNG bytes: the name myst-nb gives the image file on the page."""
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            info = output.get("metadata", {}).get("image/png", {}).get("coursekit")
            if png and info:
                found[hashlib.sha256(base64.b64decode(png)).hexdigest()] = info
    return found


def web_url(remote: str) -> str:
    """The https address of a git remote (``git@host:owner/name.git``, ``https://...``);
    "" for a local path or ``file://`` clone, which Binder and Colab cannot open."""
    ssh = re.fullmatch(r"(?:ssh://)?[\w.-]+@([\w.-]+)[:/](.+?)(?:\.git)?/?", remote)
    https = re.fullmatch(r"https?://(?:[^@/]+@)?([\w.:-]+)/(.+?)(?:\.git)?/?", remote)
    found = ssh or https
    return f"https://{found[1]}/{found[2]}" if found else ""


def repo_url_from_git(repo: Path = REPO) -> str:
    """The web address of ``repo``'s ``origin`` remote; "" when it has none."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return web_url(done.stdout.strip()) if done.returncode == 0 else ""


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
    # the landing page's "Run it" box clones this repository (code blocks take no substitutions)
    landing = STAGE / "index.md"
    clone = f"{repo_url}.git" if repo_url else "<the course's repository URL> course"
    folder = repo_url.rstrip("/").rsplit("/", 1)[-1] if repo_url else "course"
    text = landing.read_text().replace("{{ clone_url }}", clone)
    landing.write_text(text.replace("{{ clone_dir }}", folder))
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
    described: dict[str, dict] = {}
    for source in sorted(NOTEBOOKS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in source.parts:
            continue
        relative = source.relative_to(NOTEBOOKS)
        # the download a learner runs: the notebook as stored, without this run's outputs
        download = STAGE / "_extra" / "notebooks" / relative
        download.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, download)
        if source.name in copies and source.parent == NOTEBOOKS:
            nb = nbformat.read(copies[source.name], as_version=4)
            described.update(figure_texts(nb))
        else:
            nb = nbformat.read(source, as_version=4)
        if not (source.name in course and source.parent == NOTEBOOKS):
            nb.metadata["orphan"] = True  # a page reached by links, not in the navigation
            nb.metadata["nosearch"] = True  # nor among search results: it is not a lesson
        for cell in nb.cells:
            if cell.cell_type == "markdown":  # each citation a link to the bibliography
                cell.source = bibliography.link_citations(cell.source)
        nbformat.write(fold_boilerplate(nb), STAGE / "notebooks" / relative)
    (STAGE / "_generated" / "contents.md").write_text(contents_page(notebooks, pages, profile))
    # the results as read for this build, also published as results/<notebook>.json
    recorded = read_results(notebooks, claims.results_dir())
    (STAGE / "_extra" / "results").mkdir()
    for stem, data in recorded.items():
        if data is not None:
            (STAGE / "_extra" / "results" / f"{stem}.json").write_text(json.dumps(data, indent=2))
    (STAGE / "bibliography.md").write_text(bibliography.page(notebooks))
    (STAGE / "results.md").write_text(
        results_page(
            notebooks,
            recorded,
            claims.results_dir(),
            {nb.stem: describe(nb)[0] for nb in notebooks},
        )
    )
    info = {
        "profile": profile,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "repo_url": repo_url,
        "branch": branch,
        "static_vendor": str(vendor_mathjax()),
        "executed": [f"notebooks/{p.stem}" for p in pages],
        "figures": described,
        "min_text_px": figures.MIN_TEXT_PX,
    }
    (STAGE / "_site.json").write_text(json.dumps(info, indent=2) + "\n")
    return pages


def build(
    profile: str | None = None, repo_url: str | None = None, branch: str = "main", out: Path = SITE
) -> Path:
    """Build the site and return its index.html. Raises on any Sphinx warning.

    ``repo_url`` is the repository the launch and source buttons point to; None takes it
    from the git remote ``origin``, and "" (or no web remote) leaves the buttons out."""
    start = time.perf_counter()
    notebooks = course_notebooks()
    profile = choose_profile(profile, notebooks)
    if repo_url is None:
        repo_url = repo_url_from_git()
        print(
            f"site: Binder, Colab and source buttons for {repo_url} (the git remote origin)"
            if repo_url
            else "site: no launch buttons: set COURSEKIT_REPO_URL (or a git remote origin "
            "with a web address) to add them",
            flush=True,
        )
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
