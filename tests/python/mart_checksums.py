"""Independent reader for the tests: reads every committed file of each given table of a local
stripelake root through its manifest, with pyarrow and with DuckDB, and prints its row count and
the sum of every integer column as JSON.

Usage: mart_checksums.py ROOT TABLE [TABLE ...]   (TABLE like marts/mrr_daily)
"""
import json
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from read_tables import latest_manifest


def main():
    root, tables = sys.argv[1], sys.argv[2:]
    out = {}
    con = duckdb.connect()
    for table in tables:
        files = [os.path.join(root, f["path"]) for f in latest_manifest(root, table)["files"]]
        t = pa.concat_tables([pq.read_table(p) for p in files])
        ints = [f.name for f in t.schema if pa.types.is_integer(f.type)]
        arrow_sums = {c: int(pc.sum(t.column(c)).as_py() or 0) for c in ints}
        sums_sql = ", ".join(f'coalesce(sum("{c}"), 0)::HUGEINT' for c in ints)
        row = con.execute(
            f"SELECT count(*){', ' + sums_sql if ints else ''} FROM read_parquet(?)", [files]
        ).fetchone()
        # What a warehouse sees when it globs the folder LATEST names (README "Warehouses").
        with open(os.path.join(root, table, "LATEST")) as f:
            folder = f.read().strip()
        glob = os.path.join(root, table, folder, "*.parquet")
        glob_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()[0]
        out[table] = {
            "glob_rows": glob_rows,
            "pyarrow": {"rows": t.num_rows, "sums": arrow_sums},
            "duckdb": {"rows": row[0], "sums": {c: int(v) for c, v in zip(ints, row[1:])}},
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
