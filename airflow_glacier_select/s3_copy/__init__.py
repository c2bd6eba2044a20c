"""Copying Glacier job output into S3, verified against Glacier's tree hashes.

A copy follows the shape of ``s3transfer``: a plan of tree-hash-aligned byte ranges
(:mod:`.plan`) executed by a bounded pool (:mod:`.engine`), each range checked as it
arrives (:mod:`.verification`) against what Glacier says the output is (:mod:`.expected`,
which also cross-checks Glacier's own figures) and retried on its own (:mod:`.retry`),
reported at a readable pace (:mod:`.progress`), written under a key derived from the
archive (:mod:`.keys`) with the object settings and collision policy the caller chose
(:mod:`.destination`); failures are :mod:`.errors`. :mod:`.select_results` reads what a
Select job wrote to S3, where :mod:`.manifests` says it is.

What a copy has uploaded and verified is kept in the destination bucket (:mod:`.ledger`,
read and written by :mod:`.resume`), so a retry on any machine continues the multipart
upload instead of starting over; :mod:`.shards` cuts a plan into range shards that
:mod:`.sharded` copies as separate tasks into one upload. When a job's output expires
mid-copy, :mod:`.missing` turns the chunks the ledger does not prove into tree-hash-aligned
archive ranges, :mod:`.range_jobs` starts (or reuses) one retrieval job per range, and
:mod:`.expired` finds the copy again from the job alone so the engine can finish it.

``engine``, ``resume``, ``sharded``, ``select_results``, ``expired``, ``range_jobs`` and their
helper ``s3_objects`` send requests (through the hooks); every other module is pure (no
Airflow, no boto3), so its rules are tested without an endpoint. Nothing is re-exported
here: importing a pure module never imports the engine.
"""
