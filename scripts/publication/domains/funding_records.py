"""Funding decisions, VRU programme catalogue, LCPF figures: loaded as published; synthetic versions for the demo."""

from __future__ import annotations

THEMES = ["Violence reduction", "Victims", "VAWG", "Neighbourhood crime", "Crime prevention"]
SYNTHETIC_URL = "https://example.org/synthetic"


def financial_year(start: int) -> str:
    return f"{start}/{str(start + 1)[-2:]}"


def synthesize(rng, size, context):
    boroughs = context.boroughs
    decisions = []
    for i in range(1, max(size // 2, 10) + 1):
        borough = rng.choice(boroughs) if rng.random() < 0.6 else None
        year = rng.randint(2019, 2026)
        amount = round(rng.uniform(20_000, 2_000_000), -3)
        decisions.append({
            "record_id": i,
            "reference": f"SYN-PCD {1000 + i}",
            "organisation": rng.choice(["MOPAC", "VRU"]),
            "item": f"Synthetic decision {i}",
            "decision_by": "Synthetic signatory",
            "theme": rng.choice(THEMES),
            "programme": f"Synthetic programme {rng.randint(1, 12)}",
            "recipient": f"Synthetic Provider {rng.randint(1, 40)}",
            "borough": borough["name"] if borough else "",
            "gss_code": borough["gss_code"] if borough else "",
            "amount_gbp": amount,
            "amount_as_stated": f"£{amount:,.0f} (synthetic)",
            "financial_years": financial_year(year),
            "description": "Synthetic funding decision for the demo database.",
            "source_title": "Synthetic data (scripts/generate_synthetic.py)",
            "source_url": SYNTHETIC_URL,
        })
    programmes = [
        {
            "programme": f"Synthetic programme {i}",
            "description": "A synthetic violence-reduction programme for the demo database.",
            "target_group": rng.choice(["Young people aged 10-17", "Young adults 18-25", "Parents and carers"]),
            "funding_as_stated": f"£{rng.randint(2, 60) * 100_000:,} (synthetic)",
            "boroughs": "London-wide" if rng.random() < 0.3 else "Selected boroughs",
            "sources": "synthetic",
            "primary_source_url": SYNTHETIC_URL,
        }
        for i in range(1, 13)
    ]
    lcpf = []
    for start in range(2017, 2026):
        lcpf.append({
            "level": "programme", "financial_years": financial_year(start), "borough": "", "gss_code": "",
            "component": "LCPF total", "amount_gbp": 18_000_000, "amount_as_stated": "£18m (synthetic)",
            "description": "Synthetic programme total.", "source_title": "Synthetic data", "source_url": SYNTHETIC_URL,
        })
    return {
        "funding_decisions": decisions,
        "vru_programmes": programmes,
        "lcpf_funding": lcpf,
    }
