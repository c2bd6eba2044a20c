"""Copying Glacier job output into S3: plan, verification, ledger and shards (pure) and the engine."""
