"""Each domain module adds what is particular to one part of the publication.

A module may define any of:
- RULES: list of callables (tables) -> [Problem], cross-file validation run before anything is written;
- derive(db, context): create derived tables, columns and views after the source tables are loaded;
- check(db, context) -> [Problem]: validation of the built database before it is published;
- synthesize(rng, size, context) -> {resource name: [rows]}: synthetic demo rows (see scripts/generate_synthetic.py).
"""

from . import (
    changes,
    coverage,
    funding_links,
    funding_records,
    lcpf,
    opportunities,
    performance,
    provenance,
    reference,
    review,
    services,
    vru,
)

# Order matters: later domains may read tables (and synthetic rows) made by earlier ones; changes runs after the
# tables it tracks, and provenance last (it quotes every synthetic row's figures in its excerpt).
DOMAINS = [
    reference, funding_records, services, opportunities, funding_links, performance, vru, lcpf, coverage, review,
    changes, provenance,
]


def rules():
    return [rule for domain in DOMAINS for rule in getattr(domain, "RULES", [])]


def derive_steps():
    return [domain.derive for domain in DOMAINS if hasattr(domain, "derive")]


def checks():
    return [domain.check for domain in DOMAINS if hasattr(domain, "check")]


def synthesizers():
    return [domain.synthesize for domain in DOMAINS if hasattr(domain, "synthesize")]
