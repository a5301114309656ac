"""Replays the statements the ClickHouse engine sent to ClickHouse 18.16 on
chDB (a current ClickHouse, in process): every statement that ran there must
run here too. Rows are not replayed: an INSERT is checked as a SELECT of its
columns, so the SELECTs run on empty tables (their SQL, functions and types
are what is checked, not their answers).

    python replay.py [--replicated] STATEMENTS.jsonl

STATEMENTS.jsonl has one {"sql": ..., "ok": true|false} per line, in the
order they were sent; "ok" false marks one that failed on 18.16 and that the
engine tolerated (a column another node had added), whose outcome here is
not checked. Prints the version and a summary; exits 1 listing the
statements that failed.

With --replicated, the statements come from shards with replicas, and only
those of the Replicated topology are given (the Distributed tables over the
cluster cannot be created here). chDB has no ZooKeeper: a CREATE of a
Replicated table, its macros {shard} and {replica} substituted, must fail
with NO_ZOOKEEPER alone (the engine, its arguments and the columns they name
were accepted: the check comes after them), and the table is then created
with the same engine, not replicated, for the statements that follow; a
SYSTEM SYNC REPLICA must fail only because the table is not replicated."""

import json
import re
import sys
import tempfile

import chdb
from chdb import session

INSERT = re.compile(r"^INSERT INTO (\S+) \((.*)\)$", re.S)
REPLICATED = re.compile(r"ENGINE = Replicated(\w+)\('[^']*', '\{replica\}'(?:, )?")
MACROS = {"{shard}": "1", "{replica}": "r1"}


def replicated(sess, sql):
    """Runs sql as the replicated topology's statement it is; returns the
    error that shows it wrong, or None."""
    if REPLICATED.search(sql):
        subst = sql
        for k, v in MACROS.items():
            subst = subst.replace(k, v)
        try:
            sess.query(subst, "CSV")
            return "ran without ZooKeeper"
        except Exception as e:
            if "NO_ZOOKEEPER" not in str(e):
                return str(e)
        sess.query(REPLICATED.sub(lambda m: "ENGINE = " + m.group(1) + "(", sql).replace("(,", "(").replace("()", ""), "CSV")
        return None
    if sql.startswith("SYSTEM SYNC REPLICA "):
        try:
            sess.query(sql, "CSV")
            return "ran on a table that is not replicated"
        except Exception as e:
            return None if "is not replicated" in str(e) else str(e)
    return "unreplayed"


def main(path, mode=""):
    stmts = [json.loads(line) for line in open(path, encoding="utf-8")]
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        sess = session.Session(tmp)
        version = sess.query("SELECT version()", "CSV").bytes().decode().strip()
        for st in stmts:
            sql = st["sql"]
            if mode == "--replicated":
                err = replicated(sess, sql)
                if err != "unreplayed":
                    if err is not None and st["ok"]:
                        failed.append((sql, err.strip().splitlines()[0]))
                    continue
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
    sys.exit(main(sys.argv[-1], sys.argv[1] if len(sys.argv) > 2 else ""))
