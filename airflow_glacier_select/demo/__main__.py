"""``python -m airflow_glacier_select.demo``: see :mod:`airflow_glacier_select.demo`."""

from __future__ import annotations

import sys

from airflow_glacier_select.demo.run import main

if __name__ == "__main__":
    sys.exit(main())
