#!/usr/bin/env python3
"""The "admin writes a script" baseline for the import benchmark.

Usage: baseline_sqlite.py CSV DB

What a competent admin would write instead of autoprov: stdlib csv + sqlite3,
a users table and a phones table with unique indexes on username, extension
and mac, every row inserted in one transaction, one commit. It does only light
normalisation (trim, MAC to 12 lower-case hex) and no real validation, so it is
a generous lower bound for "doing the same inserts". sqlite3 runs with its
defaults (rollback journal, synchronous=FULL), i.e. the commit is durable like
autoprov's.

Prints the elapsed seconds (open CSV → commit done) on stdout.
"""

import csv
import os
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    username     TEXT NOT NULL,
    first_name   TEXT,
    last_name    TEXT,
    display_name TEXT,
    email        TEXT,
    mobile       TEXT,
    extension    TEXT NOT NULL,
    sip_password TEXT,
    web_password TEXT,
    language     TEXT,
    timezone     TEXT,
    transport    TEXT,
    blf          TEXT,
    site         TEXT
);
CREATE UNIQUE INDEX users_username ON users(username);
CREATE UNIQUE INDEX users_extension ON users(extension);
CREATE TABLE phones (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    mac     TEXT NOT NULL,
    model   TEXT
);
CREATE UNIQUE INDEX phones_mac ON phones(mac);
"""

USER_COLS = ["username", "first_name", "last_name", "display_name", "email",
             "mobile", "extension", "sip_password", "web_password", "language",
             "timezone", "transport", "blf", "site"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: baseline_sqlite.py CSV DB")
    csv_path, db_path = sys.argv[1], sys.argv[2]
    if os.path.exists(db_path):
        sys.exit("baseline_sqlite.py: %s already exists; give a fresh file" % db_path)

    start = time.perf_counter()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript(SCHEMA)
    insert_user = "INSERT INTO users (%s) VALUES (%s)" % (
        ",".join(USER_COLS), ",".join("?" * len(USER_COLS)))
    insert_phone = "INSERT INTO phones (user_id, mac, model) VALUES (?, ?, ?)"
    cur = db.cursor()
    rows = 0
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader)]
        pos = {name: k for k, name in enumerate(header)}
        user_idx = [pos.get(c) for c in USER_COLS]
        mac_i, model_i = pos.get("mac"), pos.get("phone_model")
        cur.execute("BEGIN")
        for rec in reader:
            if not any(rec):
                continue
            rows += 1
            cur.execute(insert_user,
                        [(rec[k].strip() or None) if k is not None else None
                         for k in user_idx])
            if mac_i is None:
                continue
            user_id = cur.lastrowid
            macs = rec[mac_i].split(";")
            models = rec[model_i].split(";") if model_i is not None else []
            for k, mac in enumerate(macs):
                mac = mac.strip().lower().replace(":", "").replace("-", "").replace(".", "")
                if mac and mac != "virtual":
                    model = models[k].strip() if k < len(models) else None
                    cur.execute(insert_phone, (user_id, mac, model or None))
        cur.execute("COMMIT")
    db.close()
    elapsed = time.perf_counter() - start
    print("%.3f" % elapsed)
    print("baseline_sqlite: %d rows into %s in %.3f s" % (rows, db_path, elapsed),
          file=sys.stderr)


if __name__ == "__main__":
    main()
