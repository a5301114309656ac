"""Replays the statements the ClickHouse engine sent to ClickHouse 18.16 on
chDB (a current ClickHouse, in process): every statement that ran there must
run here too. Rows are not replayed: an INSERT is checked as a SELECT of its
columns, so the SELECTs run on empty tables (their SQL, functions and types
are what is checked, not their answers).

    python replay.py STATEMENTS.jsonl

STATEMENTS.jsonl has one {"sql": ..., "ok": true|false} per line, in the
order they were sent; "ok" false marks one that failed on 18.16 and that the
engine tolerated (a column another node had added), whose outcome here is
not checked. Prints the version and a summary; exits 1 listing the
statements that failed."""

import json
import re
import sys
import tempfile

import chdb
from chdb import session

INSERT = re.compile(r"^INSERT INTO (\S+) \((.*)\)$", re.S)


def main(path):
    stmts = [json.loads(line) for line in open(path, encoding="utf-8")]
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        sess = session.Session(tmp)
        version = sess.query("SELECT version()", "CSV").bytes().decode().strip()
        for st in stmts:
            sql = st["sql"]
            m = INSERT.match(sql)
            if m:
                sql = "SELECT " + m.group(2) + " FROM " + m.group(1) + " LIMIT 0"
            try:
                sess.query(sql, "CSV")
            except Exception as e:  # chdb raises its own error types
                if st["ok"]:
                    failed.append((st["sql"], str(e).strip().splitlines()[0]))
        sess.close()
    print(f"chDB {chdb.__version__} (ClickHouse {version}): {len(stmts)} statements, {len(failed)} failed")
    for sql, err in failed[:20]:
        print(f"FAILED: {sql[:600]}\n  {err[:400]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
