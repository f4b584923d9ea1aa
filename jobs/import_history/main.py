"""import_history: a one-shot Cloud Run Job loading a pilot property's history from CSV into the warehouse.

Arguments are the CLI's (`reporting import-history --help`): ["--tenant", ID, "--property", ID,
"--dir", "gs://<transfer-bucket>/history/<tenant>/<property>/"], plus "--dry-run" to validate only.
Run it with one task: the load is one atomic replace, so there is nothing to shard, and a retried or
repeated execution leaves the same warehouse state. Prints a JSON summary (rows per table, date
range, manifest); exit 1 with the list of errors (file, line, column, reason) when a row is refused —
then nothing was loaded — or when the warehouse failed (retrying is safe); exit 2 when the tenant or
property is refused or the files cannot be read.
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["import-history", *sys.argv[1:]]))
