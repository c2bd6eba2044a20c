"""The Glacier view in the Airflow 3 UI: vaults, jobs and migration progress per ``aws`` connection.

An Airflow plugin (entry point ``airflow.plugins``) mounts a small read-only FastAPI app
at ``/glacier`` behind Airflow's own authentication and, on Airflow 3.1 and later, adds a
"Glacier" item to the UI's navigation that shows it. Nothing here ever starts, changes
or deletes anything on AWS: the page only lists and describes.
"""
