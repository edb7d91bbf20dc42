"""Independent reader for the tests: reads every committed table of a local stripelake root
through its manifest, with pyarrow and with DuckDB, and prints ids and counts as JSON.

Usage: read_tables.py ROOT TABLE [TABLE ...]   (TABLE like raw/charges)
"""
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq


def latest_manifest(root, table):
    d = os.path.join(root, "_manifests", table)
    versions = sorted(f for f in os.listdir(d) if f.endswith(".json"))
    with open(os.path.join(d, versions[-1])) as f:
        return json.load(f)


def main():
    root, tables = sys.argv[1], sys.argv[2:]
    out = {}
    con = duckdb.connect()
    for table in tables:
        files = [os.path.join(root, f["path"]) for f in latest_manifest(root, table)["files"]]
        ids = []
        for path in files:
            ids.extend(pq.read_table(path, columns=["_raw"]).column("_raw").to_pylist())
        ids = [json.loads(raw).get("id") for raw in ids]
        if files:
            rel = con.execute("SELECT count(*), count(DISTINCT id) FROM read_parquet(?)", [files]).fetchone()
        else:
            rel = (0, 0)
        out[table] = {"pyarrow_ids": sorted(i for i in ids if i is not None), "duckdb_rows": rel[0], "duckdb_distinct_ids": rel[1]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
