"""What the LCPF build and the LCPF pages agree on."""

CITY_OF_LONDON = "E09000001"

CITY_EXPLANATION = (
    "The City of London is not in these figures: it is policed by the City of London Police, so Metropolitan "
    "Police recorded crime does not cover it, and it is not one of the 32 boroughs the London Crime Prevention "
    "Fund allocates to. It is left out, not counted as zero."
)

INDICATORS = {
    "population": "Resident population",
    "total_recorded_crime": "Total recorded crime",
    "violence_against_the_person": "Violence against the person",
}

