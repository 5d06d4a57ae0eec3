// Figures: a click shows one at full size over the page (up to the window), a second
// click or Escape puts it back. Figures shrink to the column, and this is the way to
// read the details of a wide one, on a phone above all.
document.addEventListener("click", (event) => {
  const figure = event.target.closest("img.ck-figure");
  if (figure) figure.classList.toggle("ck-zoomed");
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    document.querySelectorAll("img.ck-zoomed").forEach((f) => f.classList.remove("ck-zoomed"));
  }
});

// Search results: the snippet under each result is lesson text, not the "Run this notebook"
// box or the header's buttons above every page. Sphinx's search takes a snippet from the
// page's main element; these parts are taken out of what it reads first.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".ck-run-note, .bd-header-article").forEach((e) => e.remove());
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
});
