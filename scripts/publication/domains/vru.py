"""VRU dashboard data: funding, reach, KPIs, cost-benefit (issue 6)."""
