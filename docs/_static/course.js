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
