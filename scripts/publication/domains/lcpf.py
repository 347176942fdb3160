"""London Crime Prevention Fund allocations, consultation and formula options (issue 7)."""
