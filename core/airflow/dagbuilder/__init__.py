"""Building Airflow DAGs from pipeline plans."""
