"""Lineage: which datasets each transformation reads and writes, from plans and contracts.

Nothing here imports Airflow: ``core.airflow`` turns these into Assets and
OpenLineage facets, the LocalRunner sends the same OpenLineage events itself.
"""
