"""Checkable provenance: each transcribed figure must stand in its row's source excerpt, the source's own words.

A Table Schema opts in with `"x-figures-in-excerpt": {"excerpt": "source_excerpt", "figures": ["amount_gbp"]}`:
for every row with a figure in one of those columns, the excerpt must state that number in a usual written form
(scripts/publication/figures.py). A row whose figure is not there fails the build at file:row:column. Whether the
excerpt itself may be empty is the schema's `required` constraint on the excerpt column.
"""

from __future__ import annotations

from decimal import Decimal

from ..figures import figure_stated, written_forms
from ..package import PROJECT_DATA, Problem, load_package

EXTENSION = "x-figures-in-excerpt"


def figures_in_excerpts(tables) -> list[Problem]:
    problems = []
    for table in tables.values():
        setting = table.resource.schema.get(EXTENSION)
        if not setting or not table.readable:
            continue
        excerpt_column, figures = setting["excerpt"], setting["figures"]
        where = table.resource.display_path
        for row_number, excerpt, *values in table.select(excerpt_column, *figures):
            for column, value in zip(figures, values, strict=True):
                if value is None:
                    continue
                if not excerpt:
                    problems.append(Problem(where, row_number, excerpt_column, (
                        f"empty, but {column} is {written_forms(value)}: quote the source's sentence that states it"
                    )))
                elif not figure_stated(value, excerpt):
                    problems.append(Problem(where, row_number, column, (
                        f"{written_forms(value)} is not stated in {excerpt_column}; transcribe the figure as the "
                        "source states it, or quote the sentence that does"
                    )))
    return problems


RULES = [figures_in_excerpts]


def synthesize(rng, size, context) -> dict:
    """Synthetic rows quote an invented excerpt that states their figures, so the demo passes the same rule.
    Runs after every other domain (last in DOMAINS) and fills the rows they produced."""
    for name, resource in load_package(PROJECT_DATA).resources.items():
        setting = resource.schema.get(EXTENSION) if resource.schema else None
        for row in context.produced.get(name, []) if setting else []:
            if row.get(setting["excerpt"]):
                continue
            stated = [f"{column} {Decimal(str(row[column])):,}" for column in setting["figures"]
                      if row.get(column) not in (None, "")]
            said = f": {'; '.join(stated)}." if stated else "."
            row[setting["excerpt"]] = "SYNTHETIC - invented for the demo" + said
    return {}
