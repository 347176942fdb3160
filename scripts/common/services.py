"""What the services build and the services pages agree on."""

FILTER_COLUMNS = ("service_area", "commissioner", "status")


