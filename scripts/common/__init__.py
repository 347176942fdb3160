"""Pure helpers and vocabulary shared by the build (scripts/publication) and serving (plugins/view_models).

Nothing here reads or writes files or databases: dates and durations, geography, money text, the fixed lists both
sides must agree on.
"""
