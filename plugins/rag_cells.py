"""RAG cells (issue 5): in the performance tables, a Red/Amber/Green value is shown as its word plus a shape, the same
badge as on the /performance pages, so a rating is never told apart by colour alone. JSON and CSV are unchanged."""

from datasette import hookimpl
from markupsafe import Markup, escape

TABLES = {"ratings", "committee_pack", "measure_results"}
COLUMNS = {"rag", "computed_rag", "override_rag", "previous_rag"}
SHAPES = {
    "Green": '<circle cx="9" cy="9" r="8" fill="#00703c"/>'
             '<path d="M5 9.5l2.6 2.6L13 6.5" stroke="#fff" stroke-width="2.2" fill="none"/>',
    "Amber": '<path d="M9 1.2L17.2 16.5H0.8Z" fill="#a35200"/><path d="M9 6.5v4.8" stroke="#fff" stroke-width="2.2"/>'
             '<circle cx="9" cy="13.6" r="1.2" fill="#fff"/>',
    "Red": '<rect x="1.5" y="1.5" width="15" height="15" fill="#c3260c"/>'
           '<path d="M5.5 5.5l7 7M12.5 5.5l-7 7" stroke="#fff" stroke-width="2.2"/>',
}


@hookimpl
def render_cell(value, column, table):
    if table not in TABLES or column not in COLUMNS or value not in SHAPES:
        return None
    return Markup(
        '<span class="rag" style="display:inline-flex;align-items:center;gap:0.3em;font-weight:700">'
        '<svg aria-hidden="true" focusable="false" width="16" height="16" viewBox="0 0 18 18">'
        f"{SHAPES[value]}</svg>{escape(value)}</span>"
    )
