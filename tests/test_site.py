"""The course site, built from the executed notebooks and checked in a real browser.

The site is built once (``coursekit.site.build``, warnings are errors) from the executed
copies the notebook tests leave in ``build/notebooks/<profile>/``; a notebook without one
is executed first. A headless Chromium then loads every page from a local HTTP server and
checks what a reader would see: no console errors, every image loaded, math typeset by the
MathJax the site ships, nothing fetched from the network, search, navigation, downloads,
the dark theme. A screenshot of each page goes to ``build/site-screenshots/``.
"""

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path

import pytest

from coursekit import bibliography, claims, figures, references, results_page, runner, site

PROFILE = os.environ.get("COURSEKIT_PROFILE") or "smoke"
NOTEBOOKS = runner.course_notebooks()
# Pages the navigation lists; then task notebooks (notebooks/tasks/), pages reached by links.
NAV_PAGES = [*(f"notebooks/{nb.stem}" for nb in NOTEBOOKS), "results", "bibliography"]
TASK_PAGES = [
    "notebooks/" + p.relative_to(runner.NOTEBOOKS).with_suffix("").as_posix()
    for p in sorted(runner.NOTEBOOKS.glob("*/*.ipynb"))
    if ".ipynb_checkpoints" not in p.parts
]
PAGES = ["index", *NAV_PAGES, *TASK_PAGES]
SHOTS = runner.BUILD / "site-screenshots"
PHONE_WIDTH = 390
PHONE_PAGES = ["index", f"notebooks/{NOTEBOOKS[0].stem}", "results"]
STAND_IN_REPO = "https://github.com/coursekit-example/course"
WAIT_S = 30

# What the console may log. Errors and warnings fail a page (SEVERE is what Chromium
# reports for a script error and for any resource that failed to load, a 404 included);
# INFO and DEBUG pass: the theme logs status notes at INFO ("[PST]: Changed to auto mode
# using the light theme.", "[PST]: Scrolled sidebar using stored browser position...").
# No error or warning is tolerated. The two this theme logs out of the box are fixed at
# their cause, not listed here: without html_context["default_mode"] (docs/conf.py) it logs
# SEVERE "Got invalid theme mode: . Resetting to auto.", and without html_favicon Chromium
# logs SEVERE "favicon.ico - Failed to load resource ... 404". A pattern belongs in this
# list only for a message whose cause lies outside the site, with the reason next to it.
TOLERATED_CONSOLE: list[str] = []


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_site():
    """The site in build/site/, built from the test profile's executed notebooks."""
    results = claims.results_dir()
    for nb in NOTEBOOKS:
        executed = runner.BUILD / "notebooks" / PROFILE / nb.name
        if not executed.is_file() or not (results / f"{nb.stem}.json").is_file():
            outcome = runner.execute(nb, PROFILE)
            assert outcome.output.is_file(), f"{nb.stem} left no executed copy: {outcome.error}"
    # The launch buttons need a web address: $COURSEKIT_REPO_URL, the git remote, or (a clone
    # of a local folder, as in CI) a stand-in, so that the buttons are tested everywhere.
    repo_url = os.environ.get("COURSEKIT_REPO_URL") or site.repo_url_from_git() or STAND_IN_REPO
    index = site.build(PROFILE, repo_url=repo_url)
    assert index.is_file()
    return index.parent


@pytest.fixture(scope="module")
def server(built_site):
    """http://127.0.0.1:<port>/ serving the built site from a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# --- helpers ------------------------------------------------------------------------


def wait(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def open_page(driver, url):
    """Load a page and wait until its scripts, images and math have settled."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait(
        driver,
        lambda d: d.execute_script(
            "return document.readyState == 'complete' && [...document.images].every(i => i.complete)"
        ),
        f"{url} or its images did not finish loading",
    )
    if driver.execute_script("return document.querySelector('.math') !== null"):
        wait(
            driver,
            lambda d: d.execute_script("return !!(window.MathJax && MathJax.startup?.promise)"),
            f"MathJax did not start on {url}",
        )
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "MathJax.startup.promise.then(() => done(true), e => done(String(e)))"
        )


def console_errors(driver):
    logs = driver.get_log("browser")
    return [
        entry["message"]
        for entry in logs
        if entry["level"] in ("SEVERE", "WARNING")
        and not any(re.search(pattern, entry["message"]) for pattern in TOLERATED_CONSOLE)
    ]


def screenshot(driver, name, width=1280):
    """The whole page (up to 8000 px tall) as build/site-screenshots/<name>.png."""
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 900), 8000))
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name.replace('/', '__')}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


def search_term(notebook):
    """A word of the notebook's title that search must find it by."""
    title, _ = site.describe(notebook)
    words = re.findall(r"[A-Za-z]{5,}", title)
    assert words, f"{notebook.stem}: its title has no word to search for"
    return max(words, key=len).lower()


# --- the browser tests --------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline_without_errors(page, browser, server):
    url = server + page + ".html"
    open_page(browser, url)
    errors = console_errors(browser)
    assert not errors, f"{page}: the browser console logged {errors}"

    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{page}: images that did not load: {broken}"

    # Everything the page fetched came from the site itself: no CDN, no fonts, no network.
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
    )
    foreign = [name for name in fetched if not name.startswith(server)]
    assert not foreign, f"{page}: fetched from outside the site: {foreign}"

    maths = browser.execute_script("return document.querySelectorAll('.math').length")
    if maths:
        untypeset = browser.execute_script(
            "return [...document.querySelectorAll('.math')]"
            ".filter(m => !m.querySelector('mjx-container')).map(m => m.textContent)"
        )
        assert not untypeset, f"{page}: math left untypeset: {untypeset[:5]}"
        assert not browser.find_elements("css selector", "mjx-merror"), f"{page}: math errors"
        assert any("/_static/mathjax/" in name for name in fetched), "MathJax not from the site"

    # Navigation: the sidebar lists every notebook page and the results page.
    nav = browser.execute_script(
        "return [...document.querySelectorAll('nav.bd-docs-nav a')].map(a => a.href)"
    )
    for other in NAV_PAGES:
        assert any(href.startswith(server + other + ".html") for href in nav), (
            f"{page}: the sidebar has no link to {other}"
        )
    footer = browser.find_element("css selector", ".extra_footer").text
    assert f"{PROFILE} profile" in footer
    searches = browser.execute_script(
        "return [...document.querySelectorAll('.search-button__button')]"
        ".filter(e => e.getBoundingClientRect().width > 0).length"
    )
    assert searches == 1, f"{page}: {searches} search boxes shown"
    screenshot(browser, page)
    if page in PHONE_PAGES:
        # A 390 px phone: the page itself does not scroll sideways; wide code, tables and
        # display math scroll inside their own boxes.
        browser.set_window_size(PHONE_WIDTH, 844)
        wait(
            browser,
            lambda d: d.execute_script("return window.innerWidth") == PHONE_WIDTH,
            "the window did not become phone-sized",
        )
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        browser.set_window_size(1280, 900)
        assert wide <= PHONE_WIDTH, f"{page} on a {PHONE_WIDTH} px phone is {wide} px wide"
        screenshot(browser, f"{page}-phone", width=PHONE_WIDTH)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.stem)
def test_notebook_page_has_outputs_downloads_and_launch(notebook, browser, server):
    page = f"notebooks/{notebook.stem}"
    open_page(browser, server + page + ".html")
    title, _ = site.describe(notebook)
    assert browser.find_element("css selector", "article h1").text.startswith(title[:20])
    outputs = browser.find_elements("css selector", ".cell_output")
    assert outputs, f"{page}: no cell outputs on the page (was the notebook executed?)"
    assert browser.find_elements("css selector", ".prev-next-area a"), "no previous/next links"

    note = browser.find_element("css selector", ".ck-run-note")
    assert "make lab" in note.text
    for selector, with_outputs in ((".ck-download", False), (".ck-download-executed", True)):
        href = note.find_element("css selector", selector).get_attribute("href")
        fetched = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => r.text().then(t => done([r.status, t])))",
            href,
        )
        assert fetched[0] == 200, f"{href}: HTTP {fetched[0]}"
        nb = json.loads(fetched[1])
        has_outputs = any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
        assert has_outputs == with_outputs, f"{href}: outputs {has_outputs}, want {with_outputs}"

    launch = browser.execute_script(
        "return [...document.querySelectorAll('.article-header-buttons a')].map(a => a.href)"
    )
    repo = json.loads((site.STAGE / "_site.json").read_text())["repo_url"]
    for host in ("mybinder.org", "colab.research.google.com", repo):
        assert any(host in h and f"notebooks/{notebook.name}" in h for h in launch), (
            f"{page}: no {host} launch or source link in {launch}"
        )

    # each citation links to its entry on the bibliography page, which links to the paper
    cited = bibliography.cited_in([notebook])
    entries = {f"bib-{key}" for key, stems in cited.items() if stems}
    linked = browser.execute_script(
        "return [...document.querySelectorAll('article a[href*=\"bibliography.html#bib-\"]')]"
        ".map(a => a.href.split('#').pop())"
    )
    assert entries == set(linked), f"{page}: cited {sorted(entries)}, linked {sorted(set(linked))}"

    # a copy button on every code cell, none on outputs
    cells, buttons, on_outputs = browser.execute_script(
        "return [document.querySelectorAll('.cell_input').length,"
        " document.querySelectorAll('.cell_input button.copybtn').length,"
        " document.querySelectorAll('.cell_output button.copybtn').length]"
    )
    assert cells and buttons == cells and not on_outputs, (cells, buttons, on_outputs)

    # what is not the lesson is folded, not gone: the parameters and the setup cell
    folded = browser.execute_script(
        "return [...document.querySelectorAll('.cell.tag_hide-input')]"
        ".map(c => [c.querySelector('details')?.open, c.textContent])"
    )
    assert any("ck.setup(" in text for _, text in folded), f"{page}: setup cell not folded"
    assert all(is_open is False for is_open, _ in folded), f"{page}: a folded cell shows"
    exercises = [text for _, text in folded if "ck.exercise." in text]
    assert exercises and all("Show solution" in text for text in exercises), page


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.stem)
def test_figures_are_legible_at_the_width_shown(notebook, browser, server):
    """Every figure on a notebook page, at a 1280 px desktop window: rendered at >= 150 dpi,
    its smallest text (recorded by coursekit.figures when it was drawn) at least 8 px high
    at the width the page shows it, a label on every axis that shows values, legends off the
    data, an alt text that says what it shows, and a click that shows it at full size."""
    page = f"notebooks/{notebook.stem}"
    open_page(browser, server + page + ".html")
    info = json.loads((site.STAGE / "_site.json").read_text())
    shown = browser.execute_script(
        "return [...document.querySelectorAll('.cell_output img')]"
        ".map(i => [i.src.split('/').pop().split('.')[0], i.naturalWidth, i.clientWidth, i.alt])"
    )
    small, unlabelled, covered = [], [], []
    for name, natural, width, alt in shown:
        described = info["figures"].get(name)
        assert described, f"{page}: an output image ({name}) that coursekit.figures did not see"
        assert described["dpi"] >= 150, f"{page}: a figure at {described['dpi']} dpi"
        unlabelled += described["unlabelled"]
        covered += [
            f"{panel!r}: {share:.1%} of its points"
            for panel, share in described["legend_cover"].items()
            if share > figures.MAX_LEGEND_COVER
        ]
        # (HTML shows an attribute's line breaks as spaces)
        assert alt.split() == described["alt"].split() and not alt.endswith(".png"), alt
        if described["min_font_pt"] is None:
            continue
        px = figures.text_px(described["min_font_pt"], described["dpi"], natural, width)
        if px < info["min_text_px"]:
            small.append(
                f"{alt[:70]!r}: {described['min_font_pt']:g} pt text is {px:.1f} px high, "
                f"the image {natural} px shown at {width} px"
            )
    assert not small, f"{page}: figures whose text is too small to read:\n" + "\n".join(small)
    assert not unlabelled, f"{page}: axes that show values without a label: {unlabelled}"
    assert not covered, f"{page}: legends over the data: {covered}"
    if shown:
        first = browser.find_element("css selector", ".cell_output img.ck-figure")
        before = first.size["width"]
        browser.execute_script("arguments[0].click()", first)
        assert "ck-zoomed" in first.get_attribute("class")
        assert first.size["width"] >= before
        browser.execute_script("arguments[0].click()", first)
        assert "ck-zoomed" not in first.get_attribute("class")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.stem)
def test_search_finds_the_notebook(notebook, browser, server):
    from selenium.webdriver.common.keys import Keys

    term = search_term(notebook)
    open_page(browser, server + "index.html")
    button = next(
        b
        for b in browser.find_elements("css selector", ".search-button__button")
        if b.is_displayed()
    )
    button.click()
    box = wait(
        browser,
        lambda d: next(
            (
                i
                for i in d.find_elements("css selector", "#pst-search-dialog input[name=q]")
                if i.is_displayed()
            ),
            False,
        ),
        "the search dialog did not open",
    )
    box.send_keys(term + Keys.ENTER)
    wait(browser, lambda d: "search.html" in d.current_url, "search did not open search.html")
    summary = wait(
        browser,
        lambda d: next(
            (
                p
                for p in d.find_elements("css selector", "#search-results p.search-summary")
                if p.text
            ),
            False,
        ),
        f"no search results for {term!r}",
    )
    found = browser.execute_script(
        "return [...document.querySelectorAll('#search-results ul.search li a')]"
        ".map(a => a.getAttribute('href'))"
    )
    assert any(href.startswith(f"notebooks/{notebook.stem}.html") for href in found), (
        f"searching {term!r}: {summary.text} {found}"
    )
    # each result's snippet is lesson text, not the "Run this notebook" box above every page
    snippets = wait(
        browser,
        lambda d: (
            [p.text for p in d.find_elements("css selector", "#search-results li p.context")]
            or False
        ),
        f"no snippets under the results for {term!r}",
    )
    for snippet in snippets:
        assert "Binder" not in snippet and "make lab" not in snippet, snippet
    assert not console_errors(browser)
    screenshot(browser, f"search-{notebook.stem}")


@pytest.mark.parametrize("page", ["index", *(f"notebooks/{nb.stem}" for nb in NOTEBOOKS[:1])])
def test_dark_theme(page, browser, server):
    open_page(browser, server + page + ".html")
    # The header's colour-mode button opens a menu: system settings, light, dark.
    visible = [
        b for b in browser.find_elements("css selector", ".theme-switch-button") if b.is_displayed()
    ]
    assert visible, f"{page}: no colour-mode button"
    visible[0].click()
    dark = wait(
        browser,
        lambda d: next(
            (
                b
                for b in d.find_elements("css selector", ".theme-change-button[data-mode=dark]")
                if b.is_displayed()
            ),
            False,
        ),
        "the colour-mode menu did not open",
    )
    dark.click()
    assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
    background = browser.execute_script(
        "return getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number)"
    )
    assert sum(background[:3]) / 3 < 80, f"dark theme background is {background}"
    assert not console_errors(browser)
    screenshot(browser, f"{page}-dark")
    browser.execute_script("localStorage.clear()")


def test_results_page_shows_every_check(browser, server, built_site):
    open_page(browser, server + "results.html")
    for nb in NOTEBOOKS:
        # the results as the build read them (other runs may rewrite the results folder)
        path = built_site / "results" / f"{nb.stem}.json"
        recorded = json.loads(path.read_text()) if path.is_file() else None
        section = browser.find_element("id", f"results-{nb.stem.replace('_', '-')}")
        if recorded is None:
            assert "No results recorded" in section.text
            continue
        link = section.find_element("link text", path.name).get_attribute("href")
        assert link == server + f"results/{path.name}"
        rows = section.find_elements("css selector", "table tbody tr")
        if not recorded["checks"]:
            assert "(no checks recorded)" in section.text
            continue
        assert len(rows) == len(recorded["checks"]), f"{nb.stem}: one row a check"
        for row, check in zip(rows, recorded["checks"], strict=True):
            cells = [td.text for td in row.find_elements("tag name", "td")]
            assert cells[0] == check["name"] and cells[1] == check["kind"]
            assert cells[4] == ("pass" if check["passed"] else "FAIL")
        assert recorded["profile"] in section.text and recorded["device"] in section.text
        for ref in references.references_for(nb.stem):
            assert ref.value in section.text, f"{nb.stem}: reference {ref.source} not shown"


# --- without a browser ------------------------------------------------------------------


def test_site_builds_with_warnings_as_errors(built_site):
    """Runs without Chromium too: the build itself, with -W, and what it must contain."""
    for page in PAGES:
        assert (built_site / f"{page}.html").is_file(), f"{page}.html was not built"
    for nb in NOTEBOOKS:
        assert (built_site / "notebooks" / nb.name).is_file(), f"no download for {nb.stem}"
    assert (built_site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (built_site / "search.html").is_file() and (built_site / "searchindex.js").is_file()
    # the landing page opens with the three lines that run the course
    landing = (built_site / "index.html").read_text()
    landing = landing[landing.index("<article") :]  # the page, not the sidebars' contents
    landing = re.sub(r"<[^>]+>", "", landing)  # its text (code is split into coloured spans)
    box = landing.index("Run it")
    assert box < landing.index("Who it is for") < landing.index("What the course covers")
    assert all(landing.index(step) > box for step in ("git clone", "make course", "make lab"))
    # A task notebook (run by a lesson) is a page, but no search finds it: Sphinx keeps a
    # "nosearch" page in the index with no title and no words.
    text = (built_site / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    found = {i for v in index["terms"].values() for i in ([v] if isinstance(v, int) else v)}
    for page in TASK_PAGES:
        i = index["docnames"].index(page)
        assert index["titles"][i] == "" and i not in found, f"search finds {page}"
    first = index["docnames"].index(f"notebooks/{NOTEBOOKS[0].stem}")
    assert index["titles"][first] and first in found


def test_results_page_escapes_and_states_each_bar(tmp_path):
    nb = NOTEBOOKS[0]
    data = {
        "notebook": nb.stem,
        "profile": "lab",
        "device": "cpu",
        "wall_time_s": 2.5,
        "metrics": {
            "by loss": {"saturating": 190.1},
            "accuracy (min, max)": [0.6, 0.62],
            "study": [{"batch": 32}, {"batch": 64}],
        },
        "checks": [
            dict(name="KL(q || p)", value=0.01, passed=True, form="at_most", bar=0.05),
            dict(name="ESS", value=50.0, passed=False, form="at_least", bar=100.0, kind="timing"),
            dict(
                name="mean",
                value=0.5,
                passed=True,
                form="close",
                kind="identity",
                expected=0.53,
                tolerance=0.1,
            ),
        ],
    }
    (tmp_path / f"{nb.stem}.json").write_text(json.dumps(data))
    text = results_page.results_page(
        [nb], results_page.read_results([nb], tmp_path), tmp_path, {nb.stem: "A title"}
    )
    assert r"KL\(q \|\| p\)" in text
    # recorded numbers read as text, not as Python's dicts and lists
    plain = text.replace("\\", "")
    assert "by loss: saturating 190.1" in plain and "accuracy (min, max) 0.6 to 0.62" in plain
    assert "study: a table of 2 rows" in plain and "{" not in plain.split("other recorded")[1][:200]
    assert r"≤ 0\.05" in text and r"≥ 100" in text and r"0\.53 ± 0\.1" in text
    assert "**FAIL**" in text and "no results recorded" not in text
    assert "| measured |" in text and "| timing |" in text and "| identity |" in text


def test_default_profile_is_the_most_complete_then_the_newest(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(site, "BUILD", tmp_path)
    notebooks = [Path(f"{i:02d}_topic.ipynb") for i in (1, 2)]

    def executed_copies(profile, *names):
        (tmp_path / "notebooks" / profile).mkdir(parents=True, exist_ok=True)
        for name in names:
            (tmp_path / "notebooks" / profile / name).write_text("{}")
        time.sleep(0.01)  # distinct modification times

    with pytest.raises(ValueError, match="coursekit run"):
        site.choose_profile(None, notebooks)
    executed_copies("lab", "01_topic.ipynb", "02_topic.ipynb")
    executed_copies("smoke", "01_topic.ipynb")
    assert site.choose_profile(None, notebooks) == "lab"  # the most complete
    executed_copies("smoke", "02_topic.ipynb")
    assert site.choose_profile(None, notebooks) == "smoke"  # as complete, and newer
    assert site.choose_profile("lab", notebooks) == "lab"
    with pytest.raises(ValueError, match="--profile full"):
        site.choose_profile("full", notebooks)


def test_each_reference_is_listed_once_beside_the_notebooks_it_belongs_to(tmp_path):
    text = results_page.results_page(NOTEBOOKS, {nb.stem: None for nb in NOTEBOOKS}, tmp_path, {})
    listing = text.split("## Published references")[1].replace("\\", "")
    goyal = [row for row in listing.splitlines() if "Goyal et al. 2017" in row]
    assert len(goyal) == 1 and "large_batch, horovod" in goyal[0]
    horovod = next(row for row in listing.splitlines() if "Horovod README" in row)
    assert horovod.rstrip(" |").endswith("10_horovod")  # not 03's


def test_references_follow_the_notebook_topic():
    assert references.references_for("04_svi_coin_toss")[0].check == "SVI posterior mean"
    assert references.references_for("05_vae_mnist") == references.REFERENCES["vae"]
    assert references.references_for("09_horovod") == references.REFERENCES["horovod"]
    assert references.references_for("03_lamb") == references.REFERENCES["large_batch"]
    assert references.references_for("03_gaussian_processes") == []


def test_a_published_number_is_set_only_beside_a_run_on_the_same_data(tmp_path):
    vae = next(nb for nb in NOTEBOOKS if nb.stem == "05_vae")
    ref = references.REFERENCES["vae"][0]
    assert ref.dataset == "mnist-official" and ref.check

    def page(key):
        run = {
            "notebook": "05_vae",
            "profile": "full",
            "device": "cuda",
            "wall_time_s": 1.0,
            "data": {"key": key, "source": f"the {key} images"},
            "checks": [dict(name=ref.check, value=-104.2, passed=True, form="close",
                            expected=-104.5, tolerance=1.0)],
        }  # fmt: skip
        (tmp_path / "05_vae.json").write_text(json.dumps(run))
        return results_page.results_page(
            [vae], results_page.read_results([vae], tmp_path), tmp_path, {vae.stem: "The VAE"}
        )

    same, other = page("mnist-official"), page("digits")
    row = next(
        line for line in same.splitlines() if line.startswith(f"| {results_page.escape(ref.check)}")
    )
    assert results_page.escape(ref.value) in row  # beside the check: same experiment, same data
    summary_row = next(line for line in same.splitlines() if line.startswith("| [05"))
    assert f"| {results_page.escape('mnist-official')} |" in summary_row  # the data column
    row = next(
        line
        for line in other.splitlines()
        if line.startswith(f"| {results_page.escape(ref.check)}")
    )
    assert results_page.escape(ref.value) not in row  # a run on the 8x8 digits gets no MNIST number
    assert "Published on other data (mnist-official; this run used digits)" in other.replace(
        "\\", ""
    )
    assert "- **data** the digits images" in other.replace("\\", "")


def test_summaries_end_at_a_sentence_end():
    assert site.whole_sentences("Notebook 01 used the exact gradient. This notebook:") == (
        "Notebook 01 used the exact gradient."
    )
    assert site.whole_sentences("It learns the model. A **VAE** (VAE; 2014) is") == (
        "It learns the model."
    )
    assert site.whole_sentences("One. This notebook builds the methods, and says why:") == (
        "One. This notebook builds the methods, and says why."
    )
    assert site.whole_sentences("Ends (here).") == "Ends (here)."
    for notebook in runner.course_notebooks():
        _, summary = site.describe(notebook)
        assert summary[-1] in ".!?", f"{notebook.stem}'s summary ends {summary[-40:]!r}"


def test_a_git_remote_gives_the_web_address_of_the_repository():
    for remote in (
        "git@github.com:owner/course.git",
        "https://github.com/owner/course.git",
        "https://user:token@github.com/owner/course",
        "ssh://git@github.com/owner/course.git",
    ):
        assert site.web_url(remote) == "https://github.com/owner/course", remote
    for local in ("/work/main", "file:///work/main", "../course", ""):
        assert site.web_url(local) == "", local


def test_boilerplate_is_folded_and_figures_are_named_by_their_bytes():
    import base64
    import hashlib

    import nbformat

    png = base64.b64encode(b"not really a png").decode()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title"),
            nbformat.v4.new_code_cell('profile = "auto"', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("import coursekit as ck\nrun = ck.setup(profile)"),
            nbformat.v4.new_code_cell(
                "plot()",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={"image/png": png},
                        metadata={"image/png": {"coursekit": {"alt": "A figure."}}},
                    )
                ],
            ),
            nbformat.v4.new_code_cell("run = ck.setup(profile)  # a second one is the lesson's"),
            nbformat.v4.new_code_cell(
                "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
                'f = ck.exercise.check("01.f", f)'
            ),
        ]
    )
    site.fold_boilerplate(nb)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert ["hide-input" in t for t in tags] == [False, True, True, False, False, True]
    assert nb.cells[-1].metadata["mystnb"]["code_prompt_show"] == "Show solution"
    name = hashlib.sha256(b"not really a png").hexdigest()
    assert site.figure_texts(nb) == {name: {"alt": "A figure."}}


def test_every_citation_has_a_bibliography_entry():
    """A citation in prose ("Name et al. (2017)") needs an entry in docs/bibliography.toml."""
    import nbformat

    assert bibliography.unknown_citations("as Smith et al. (2020) and Kingma & Ba, 2015 show") == [
        "Smith et al. (2020"
    ]
    for notebook in [*NOTEBOOKS, *sorted(runner.NOTEBOOKS.glob("*/*.ipynb"))]:
        nb = nbformat.read(notebook, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert not bibliography.unknown_citations(text), notebook.stem
    keys = [paper.key for paper in bibliography.PAPERS]
    assert len(keys) == len(set(keys)), "two entries with one key"
    cited = bibliography.cited_in(NOTEBOOKS)
    assert all(cited.values()), (
        f"entries no notebook cites: {[k for k, v in cited.items() if not v]}"
    )
