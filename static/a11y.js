// Accessibility fixes that apply to every page (issues 9 and 15), loaded by templates/base.html.
//
// Reflow (WCAG 2.2 1.4.10): a data table in the page that is not already inside a scrolling box is put in a
// <div class="table-scroll"> (static/site.css lets it scroll sideways), so that a wide table scrolls inside its own
// box, never the page. Whenever such a box (or any other scrolling table wrapper a template did not make focusable)
// really is wider than the window, it becomes a named region that the keyboard can reach and scroll (WCAG 2.1.1,
// axe "scrollable-region-focusable"); when it fits again it stops being a tab stop. The name is the table's
// caption, else the nearest heading before it. Also: heading levels that skip one are closed up, and the
// datasette-search-all box gets a name (see below).
(() => {
  const managed = new Set();
  let counter = 0;

  const scrollsSideways = (element) => /(auto|scroll)/.test(getComputedStyle(element).overflowX);

  const ensureId = (element, prefix) => {
    if (!element.id) {
      counter += 1;
      element.id = `${prefix}-${counter}`;
    }
    return element.id;
  };

  const headingBefore = (element) => {
    for (let node = element; node && node !== document.body; node = node.parentElement) {
      for (let sibling = node.previousElementSibling; sibling; sibling = sibling.previousElementSibling) {
        const inside = [...sibling.querySelectorAll("h1, h2, h3, h4, h5, h6")];
        const heading = sibling.matches("h1, h2, h3, h4, h5, h6") ? sibling : inside[inside.length - 1];
        if (heading && heading.textContent.trim()) return heading;
      }
    }
    return null;
  };

  const name = (box) => {
    const table = box.querySelector("table");
    const caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) {
      box.setAttribute("aria-labelledby", ensureId(caption, "table-caption"));
      return;
    }
    const heading = headingBefore(box);
    if (heading) {
      box.setAttribute("aria-labelledby", ensureId(heading, "table-heading"));
    } else {
      box.setAttribute("aria-label", "Table, scrolls sideways");
    }
  };

  const update = () => {
    managed.forEach((box) => {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) name(box);
      } else if (document.activeElement !== box) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
      }
    });
  };

  const wrapTables = () => {
    const main = document.querySelector("main") || document.body;
    main.querySelectorAll("table").forEach((table) => {
      if (table.closest(".leaflet-container")) return;
      let scroller = null;
      for (let node = table.parentElement; node && node !== main.parentElement; node = node.parentElement) {
        if (scrollsSideways(node)) { scroller = node; break; }
      }
      if (!scroller) {
        scroller = document.createElement("div");
        scroller.className = "table-scroll";
        table.parentNode.insertBefore(scroller, table);
        scroller.appendChild(table);
      }
      if (!scroller.hasAttribute("tabindex")) managed.add(scroller);  // a template's own region is left as it is
    });
  };

  // Headings (WCAG 1.3.1, axe "heading-order"): Datasette's database and SQL pages put an <h3> straight after the
  // page's <h1>. A heading more than one level below the one before it becomes the next level down (the element is
  // replaced: its children and attributes move to an element of the right level).
  const fixHeadingOrder = () => {
    const main = document.querySelector("main");
    if (!main) return;
    let previous = 0;
    main.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach((heading) => {
      const level = Number(heading.tagName[1]);
      if (previous && level > previous + 1) {
        const replacement = document.createElement(`h${previous + 1}`);
        [...heading.attributes].forEach((attribute) => replacement.setAttribute(attribute.name, attribute.value));
        replacement.dataset.originalLevel = String(level);
        while (heading.firstChild) replacement.appendChild(heading.firstChild);
        heading.replaceWith(replacement);
        previous += 1;
      } else {
        previous = level;
      }
    });
  };

  // Form fields that a plugin's template leaves without a name (WCAG 4.1.2 / 1.3.1, axe "label"): the search box of
  // datasette-search-all's /-/search page.
  const nameUnlabelledFields = () => {
    const search = document.querySelector("#search-all-q");
    if (search && !search.labels.length && !search.hasAttribute("aria-label")) {
      search.setAttribute("aria-label", "Search all tables");
    }
  };

  const resized = window.ResizeObserver ? new ResizeObserver(update) : null;
  const observed = new Set();

  const pass = () => {
    fixHeadingOrder();
    nameUnlabelledFields();
    wrapTables();
    managed.forEach((box) => {
      if (resized && !observed.has(box)) {
        resized.observe(box);
        observed.add(box);
      }
    });
    update();
  };

  const start = () => {
    pass();
    window.addEventListener("resize", update);
    // Plugins add tables after the page has loaded (dashboard charts, search-all results): handle them too. The
    // changes made here are idempotent, so the mutations they cause end in a pass that changes nothing.
    const main = document.querySelector("main");
    if (main && window.MutationObserver) {
      let queued = false;
      new MutationObserver(() => {
        if (queued) return;
        queued = true;
        requestAnimationFrame(() => { queued = false; pass(); });
      }).observe(main, { childList: true, subtree: true });
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// Bypass blocks (WCAG 2.4.1): a table page's facets can hold dozens of links before the rows. A link placed before
// them takes keyboard users straight to the rows.
(() => {
  const addSkipFacets = () => {
    const facets = document.querySelector(".facet-results");
    const rows = document.querySelector("table.rows-and-columns");
    if (!facets || !rows || document.querySelector("a.skip-facets") || facets.querySelectorAll("a").length < 10) return;
    if (!rows.id) rows.id = "rows";
    rows.tabIndex = -1;
    const skip = document.createElement("a");
    skip.href = `#${rows.id}`;
    skip.className = "skip-facets";
    skip.textContent = "Skip the facets and go to the rows";
    facets.before(skip);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", addSkipFacets);
  else addSkipFacets();
})();
