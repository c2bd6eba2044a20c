"""Vault-to-S3 migration as a library: plan before paying, reuse what exists, pace, report.

Layers, as in the rest of the package:

- :mod:`.policy`, :mod:`.plan`, :mod:`.reuse`, :mod:`.report`: pure rules (no Airflow,
  no boto3), so every figure a plan prints and every decision a run takes is unit-tested;
- :mod:`.vault`: the Glacier and S3 calls a migration makes, through the hooks;
- :mod:`.tasks`: Airflow tasks that compose the above, which an example DAG wires in a
  screen (see ``example_dags/example_glacier_vault_migration.py``).
"""
