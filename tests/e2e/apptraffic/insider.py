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


def run(app_url, source=orm_workload.APP, page=5):
    """Page through the card table twice (offset pages, then keyset pages); returns pages read."""
    engine = orm_workload.make_engine(app_url, source, app=False)
    pages = 0
    cols = "id, customer_id, brand, last4, card_token, exp_month, exp_year"
    try:
        with engine.connect() as conn:
            offset = 0
            while True:
                rows = conn.execute(
                    text(f"SELECT {cols} FROM {TABLE} ORDER BY id LIMIT :n OFFSET :o"), {"n": page, "o": offset}
                ).all()
                pages += 1
                if len(rows) < page:
                    break
                offset += page
            conn.rollback()
        with engine.connect() as conn:
            last = 0
            while True:
                rows = conn.execute(
                    text(f"SELECT {cols} FROM {TABLE} WHERE id > :last ORDER BY id LIMIT :n"), {"last": last, "n": page}
                ).all()
                pages += 1
                if len(rows) < page:
                    break
                last = rows[-1][0]
            conn.rollback()
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
