// Accessibility fixes that apply to every page (issue 9), loaded by templates/base.html.
// Any horizontally scrolling table wrapper a template did not already make focusable becomes a named region
// that the keyboard can reach and scroll (WCAG 2.1.1; axe "scrollable-region-focusable").
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".table-wrapper:not([tabindex])").forEach((wrapper) => {
    if (wrapper.scrollWidth > wrapper.clientWidth) {
      wrapper.setAttribute("tabindex", "0");
      wrapper.setAttribute("role", "region");
      wrapper.setAttribute("aria-label", "Results table, scrollable");
    }
  });
});
