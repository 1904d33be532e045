#!/usr/bin/env python3
"""Slow exfiltration by an allowed reader: the application's own account, from the application
zone, pages through the restricted card table a few rows at a time — first with LIMIT/OFFSET,
then with keyset pages (`WHERE id > :last ORDER BY id LIMIT n`) in a second session.

No single statement is unusual (the application reads `payment_methods` all day); the volume per
session is the signal (`sql.restricted-paging`). The statements go through SQLAlchemy and the
same stock drivers as the ORM application, so the connection chatter is the real one.

Usage (record.py drives it): insider.py --app-url URL [--source 127.16.0.5] [--page 5]
"""

import argparse

from sqlalchemy import text

import orm_workload

TABLE = "payment_methods"


def page_through(engine, sql, params, next_params):
    """Read pages in one session until a short page; returns how many pages were read."""
    pages = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(text(sql), params).all()
            pages += 1
            if len(rows) < params["n"]:
                break
            params = next_params(params, rows)
        conn.rollback()
    return pages


def run(app_url, source=orm_workload.APP, page=5):
    """Page through the card table twice (offset pages, then keyset pages); returns pages read."""
    engine = orm_workload.make_engine(app_url, source, app=False)
    cols = "id, customer_id, brand, last4, card_token, exp_month, exp_year"
    try:
        pages = page_through(
            engine,
            f"SELECT {cols} FROM {TABLE} ORDER BY id LIMIT :n OFFSET :o",
            {"n": page, "o": 0},
            lambda p, rows: {**p, "o": p["o"] + p["n"]},
        )
        pages += page_through(
            engine,
            f"SELECT {cols} FROM {TABLE} WHERE id > :last ORDER BY id LIMIT :n",
            {"n": page, "last": 0},
            lambda p, rows: {**p, "last": rows[-1][0]},
        )
    finally:
        engine.dispose()
    return pages


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app-url", required=True)
    ap.add_argument("--source", default=orm_workload.APP)
    ap.add_argument("--page", type=int, default=5)
    a = ap.parse_args()
    print(run(a.app_url, a.source or None, a.page))


if __name__ == "__main__":
    main()
