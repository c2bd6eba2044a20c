"""The one-command demo: the example DAGs through real Airflow against a local Glacier endpoint.

    python -m airflow_glacier_select.demo

starts the local Glacier endpoint as a separate process, seeds three vaults with CSV and
binary archives (two larger than 64 MiB), starts ``airflow standalone`` (scheduler,
triggerer, dag-processor, API server) in a throwaway AIRFLOW_HOME, runs the example
DAGs with deferred waits, checks every result against what was seeded, and prints a
summary table. It exits non-zero if any run or check failed. It needs the ``endpoint``
extra and a source checkout (for ``example_dags/``).
"""
