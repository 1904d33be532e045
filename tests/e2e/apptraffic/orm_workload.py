#!/usr/bin/env python3
"""Benign traffic of a real ORM application (SQLAlchemy 2.x) against MariaDB or PostgreSQL.

A small shop: migrations run by `migrator` from the management zone, then the application
(`shop_app`, application zone) starts, introspects its own schema and serves customers: sign-ups,
catalog browsing with pagination and optional filters, checkouts in transactions (some rolled
back), order history with eager loading, back-office reports, and batch jobs. Everything goes
through SQLAlchemy and its stock drivers (`mysql+pymysql`, `postgresql+pg8000`), so the audit log
shows exactly what an ORM application sends, connection set-up chatter included.

The client sockets are bound to the zone addresses (pymysql `bind_address`, pg8000
`source_address`, passed through `connect_args`). A fixed seed makes every run the same shape.

Usage (record.py drives it against scratch servers):
  orm_workload.py --engine mysql|pg --migrator-url URL --app-url URL
                  [--mgmt-source 127.10.0.5] [--app-source 127.16.0.5] [--scale 1.0]
Pass an empty --mgmt-source/--app-source to connect without binding (your own database).
"""

import argparse
import datetime as dt
import random
import sys
import time

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship, selectinload, sessionmaker

MGMT = "127.10.0.5"
APP = "127.16.0.5"
SEED = 20261128
BASE_TIME = dt.datetime(2026, 11, 1, 9, 0, 0)

# ------------------------------------------------------------------------------------------------
# Migrations (what a migration tool would run from the management zone)
# ------------------------------------------------------------------------------------------------

# 001_initial: the schema as the first release created it (Core tables, like a migration script).
m001 = MetaData()
Table(
    "schema_version",
    m001,
    Column("version_num", String(32), primary_key=True),
)
Table(
    "customers",
    m001,
    Column("id", Integer, primary_key=True),
    Column("email", String(128), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("country", String(2), nullable=False),
    Column("created_at", DateTime, nullable=False, server_default=func.now()),
)
Table(
    "products",
    m001,
    Column("id", Integer, primary_key=True),
    Column("sku", String(32), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("category", String(40), nullable=False, index=True),
    Column("price_cents", Integer, nullable=False),
    Column("stock", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)
Table(
    "orders",
    m001,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
Table(
    "order_items",
    m001,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
)
Table(
    "payment_methods",
    m001,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("brand", String(16), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("card_token", String(64), nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
)


def migrate(engine):
    """001 (create_all) and 002 (ALTER TABLE ... ADD COLUMN, a composite index), versioned."""
    m001.create_all(engine)
    with engine.begin() as conn:
        current = conn.execute(text("SELECT version_num FROM schema_version")).scalar()
        if current is None:
            conn.execute(text("INSERT INTO schema_version (version_num) VALUES (:v)"), {"v": "001_initial"})
    with engine.begin() as conn:
        # 002_loyalty: two new columns and an index for the back-office order list.
        conn.execute(text("ALTER TABLE customers ADD COLUMN loyalty_points INTEGER NOT NULL DEFAULT 0"))
        conn.execute(text("ALTER TABLE orders ADD COLUMN shipped_at TIMESTAMP NULL"))
        orders = Table("orders", MetaData(), autoload_with=conn)
        Index("ix_orders_status_created", orders.c.status, orders.c.created_at).create(conn)
        conn.execute(text("UPDATE schema_version SET version_num = :v"), {"v": "002_loyalty"})


# ------------------------------------------------------------------------------------------------
# The application's model (the ORM classes, at schema version 002)
# ------------------------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    loyalty_points: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")
    payment_methods: Mapped[list["PaymentMethod"]] = relationship(back_populates="customer")


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(40))
    price_cents: Mapped[int]
    stock: Mapped[int]
    active: Mapped[bool] = mapped_column(Boolean)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16))
    total_cents: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list["OrderItem"]] = relationship(back_populates="order", cascade="all, delete-orphan")


class OrderItem(Base):
    __tablename__ = "order_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty: Mapped[int]
    unit_price_cents: Mapped[int]
    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class PaymentMethod(Base):
    __tablename__ = "payment_methods"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    brand: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    card_token: Mapped[str] = mapped_column(String(64))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    customer: Mapped[Customer] = relationship(back_populates="payment_methods")


CATEGORIES = ["books", "games", "garden", "kitchen", "music", "office", "sports", "toys"]
COUNTRIES = ["DE", "FR", "GB", "IE", "NL", "SE", "US"]
BRANDS = ["visa", "mastercard", "amex"]
FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra"]


# ------------------------------------------------------------------------------------------------
# The application
# ------------------------------------------------------------------------------------------------


class ShopApp:
    def __init__(self, engine, rng, scale):
        self.engine = engine
        self.rng = rng
        self.scale = scale
        self.Session = sessionmaker(engine)
        self.product_ids = []
        self.customer_ids = []
        self.stats = {}

    def n(self, base):
        return max(1, int(base * self.scale))

    def count(self, what, k=1):
        self.stats[what] = self.stats.get(what, 0) + k

    # -- start-up: schema checks and introspection of its own schema --------------------------------

    def startup(self):
        insp = inspect(self.engine)
        tables = insp.get_table_names()
        for required in ("customers", "products", "orders", "order_items", "payment_methods"):
            if not insp.has_table(required):
                raise SystemExit(f"schema not migrated: {required} missing")
        for t in tables:
            insp.get_columns(t)
        insp.get_pk_constraint("orders")
        insp.get_foreign_keys("order_items")
        insp.get_indexes("orders")
        insp.get_unique_constraints("customers")
        reflected = MetaData()
        reflected.reflect(bind=self.engine)
        with self.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM schema_version")).scalar_one()
        if version != "002_loyalty":
            raise SystemExit(f"unexpected schema version {version}")
        self.count("introspection")

    # -- catalog import (bulk insert) -------------------------------------------------------------

    def import_catalog(self):
        rows = []
        for i in range(1, self.n(320) + 1):
            cat = CATEGORIES[i % len(CATEGORIES)]
            rows.append(
                {
                    "sku": f"SKU-{i:05d}",
                    "name": f"{cat.title()} item {i}",
                    "category": cat,
                    "price_cents": self.rng.randrange(199, 19999),
                    "stock": self.rng.randrange(0, 60),
                    "active": self.rng.random() > 0.05,
                }
            )
        with self.Session() as s:
            for start in range(0, len(rows), 80):
                s.execute(insert(Product), rows[start : start + 80])
            s.commit()
            self.product_ids = list(s.scalars(select(Product.id).order_by(Product.id)))
        self.count("bulk_insert_products", len(rows))

    # -- sign-ups ---------------------------------------------------------------------------------

    def signups(self):
        for i in range(1, self.n(150) + 1):
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            with self.Session() as s:
                c = Customer(
                    email=f"{first.lower()}.{last.lower()}.{i}@example.com",
                    name=f"{first} {last}",
                    country=self.rng.choice(COUNTRIES),
                )
                s.add(c)
                s.flush()
                s.add(
                    PaymentMethod(
                        customer_id=c.id,
                        brand=self.rng.choice(BRANDS),
                        last4=f"{self.rng.randrange(10000):04d}",
                        card_token=f"tok_{self.rng.getrandbits(64):016x}",
                        exp_month=self.rng.randrange(1, 13),
                        exp_year=self.rng.randrange(2027, 2032),
                    )
                )
                s.commit()
                self.customer_ids.append(c.id)  # expired on commit: reloads the row
            self.count("signup")
            if i % 40 == 0:
                # A duplicate e-mail: the unique constraint refuses it, the app rolls back.
                with self.Session() as s:
                    s.add(Customer(email=f"{first.lower()}.{last.lower()}.{i}@example.com", name="Dup", country="DE"))
                    try:
                        s.commit()
                    except IntegrityError:
                        s.rollback()
                        self.count("signup_duplicate_rolled_back")

    # -- browsing ---------------------------------------------------------------------------------

    def product_page(self, s):
        p = s.get(Product, self.rng.choice(self.product_ids))
        _ = p.name
        self.count("product_page")

    def product_pages(self, s, k):
        for _ in range(k):
            self.product_page(s)

    def category_pagination(self, s, cats):
        for cat in cats:
            page = 0
            while True:
                rows = s.scalars(
                    select(Product)
                    .where(Product.category == cat, Product.active.is_(True))
                    .order_by(Product.price_cents, Product.id)
                    .limit(10)
                    .offset(10 * page)
                ).all()
                self.count("category_page")
                if len(rows) < 10:
                    break
                page += 1
            s.scalar(select(func.count()).select_from(Product).where(Product.category == cat))
        s.commit()

    def search(self, s, k_searches):
        """The same query with 0..3 optional predicates, as a search form builds it."""
        for _ in range(k_searches):
            q = select(Product).where(Product.active.is_(True))
            k = self.rng.randrange(0, 4)
            preds = self.rng.sample(["category", "min", "max", "name"], k)
            for p in preds:
                if p == "category":
                    q = q.where(Product.category == self.rng.choice(CATEGORIES))
                elif p == "min":
                    q = q.where(Product.price_cents >= self.rng.randrange(0, 5000))
                elif p == "max":
                    q = q.where(Product.price_cents <= self.rng.randrange(5000, 20000))
                else:
                    q = q.where(Product.name.like(f"%item {self.rng.randrange(1, 40)}%"))
            s.scalars(q.order_by(Product.id).limit(20)).all()
            self.count(f"search_{k}_filters")
        s.commit()

    def compare_products(self, s, k):
        """IN-lists of varying arity (1..25)."""
        for _ in range(k):
            ids = self.rng.sample(self.product_ids, self.rng.randrange(1, 26))
            s.scalars(select(Product).where(Product.id.in_(ids))).all()
            self.count("in_list")
        s.commit()

    # -- checkout (transactions, row locks, savepoints, rollbacks) ---------------------------------

    def checkout(self, s, customer_id, created_at):
        ids = self.rng.sample(self.product_ids, self.rng.randrange(1, 6))
        products = s.scalars(select(Product).where(Product.id.in_(ids)).order_by(Product.id).with_for_update()).all()
        items, total = [], 0
        for p in products:
            qty = self.rng.randrange(1, 4)
            if p.stock < qty or not p.active:
                s.rollback()  # out of stock: nothing is written
                self.count("checkout_rolled_back")
                return
            p.stock -= qty
            items.append(OrderItem(product_id=p.id, qty=qty, unit_price_cents=p.price_cents))
            total += qty * p.price_cents
        order = Order(customer_id=customer_id, status="new", total_cents=total, created_at=created_at, items=items)
        s.add(order)
        s.flush()
        if self.rng.random() < 0.25:
            # A coupon applied in a savepoint; invalid coupons roll back to it.
            try:
                with s.begin_nested():
                    order.total_cents = int(order.total_cents * 0.9)
                    s.flush()
                    if self.rng.random() < 0.5:
                        raise ValueError("coupon expired")
                self.count("coupon_applied")
            except ValueError:
                self.count("coupon_rolled_back_to_savepoint")
        pm = s.scalars(select(PaymentMethod).where(PaymentMethod.customer_id == customer_id).limit(1)).first()
        order.status = "paid" if pm is not None else "pending"
        s.commit()
        self.count("checkout")

    def checkouts(self, browse, first, k):
        for i in range(first, first + k):
            # Other visitors browse meanwhile: the browse session keeps its connection (and its
            # transaction) across several checkouts, which take another pooled connection.
            self.product_page(browse)
            if i % 10 == 9:
                browse.commit()
            with self.Session() as s:
                self.checkout(s, self.rng.choice(self.customer_ids), BASE_TIME + dt.timedelta(minutes=7 * i))
            if i % 25 == 0:
                # Restock job: batched updates by primary key (ORM bulk UPDATE, executemany).
                with self.Session() as s:
                    low = s.scalars(select(Product.id).where(Product.stock < 5).order_by(Product.id)).all()
                    if low:
                        s.execute(update(Product), [{"id": pid, "stock": 50} for pid in low])
                    s.commit()
                    self.count("restock_batch")

    # -- order history, account pages ---------------------------------------------------------

    def order_history(self, s, k):
        for _ in range(k):
            cid = self.rng.choice(self.customer_ids)
            orders = s.scalars(
                select(Order)
                .where(Order.customer_id == cid)
                .options(selectinload(Order.items).joinedload(OrderItem.product))
                .order_by(Order.created_at.desc())
                .limit(10)
            ).all()
            for o in orders:
                _ = [it.product.name for it in o.items]
            c = s.get(Customer, cid)
            _ = [pm.last4 for pm in c.payment_methods]  # lazy load
            self.count("order_history")
        s.commit()

    def account_updates(self, k):
        for _ in range(k):
            with self.Session() as s:
                c = s.get(Customer, self.rng.choice(self.customer_ids))
                c.name = c.name + " Jr" if self.rng.random() < 0.5 else c.name.replace(" Jr", "")
                c.country = self.rng.choice(COUNTRIES)
                s.commit()
                self.count("account_update")

    def deletes(self, k_orders, k_cards):
        """Deletes of single rows: a removed cart line, a cancelled order, a removed card."""
        with self.Session() as s:
            orders = s.scalars(select(Order).where(Order.status == "paid").options(selectinload(Order.items)).order_by(Order.id).limit(k_orders)).all()
            for o in orders[: len(orders) // 2]:
                if len(o.items) > 1:
                    s.delete(o.items[-1])
                    self.count("delete_order_item")
            for o in orders[len(orders) // 2 :]:
                s.delete(o)  # cascades to its items
                self.count("delete_order")
            s.commit()
        for _ in range(k_cards):
            with self.Session() as s:
                pm = s.scalars(select(PaymentMethod).order_by(PaymentMethod.id.desc()).limit(1)).first()
                s.delete(pm)
                s.commit()
                self.count("delete_payment_method")
        with self.Session() as s:
            s.execute(delete(OrderItem).where(OrderItem.qty == 0))
            s.commit()

    # -- back office: joins and aggregates -----------------------------------------------------------

    def reports(self, s):
        s.execute(
            select(Product.category, func.sum(OrderItem.qty * OrderItem.unit_price_cents).label("revenue"))
            .join(OrderItem, OrderItem.product_id == Product.id)
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.status.in_(["paid", "shipped"]))
            .group_by(Product.category)
            .order_by(sa.desc("revenue"))
        ).all()
        s.execute(select(Order.status, func.count(Order.id)).group_by(Order.status)).all()
        s.execute(
            select(Customer.id, Customer.name, func.count(Order.id).label("n"), func.sum(Order.total_cents))
            .join(Order, Order.customer_id == Customer.id)
            .group_by(Customer.id, Customer.name)
            .having(func.count(Order.id) >= 2)
            .order_by(sa.desc("n"))
            .limit(10)
        ).all()
        s.execute(
            select(Customer.country, func.avg(Order.total_cents), func.min(Order.created_at), func.max(Order.created_at))
            .join(Order)
            .group_by(Customer.country)
        ).all()
        s.execute(
            select(Order)
            .options(joinedload(Order.customer))
            .where(Order.created_at >= BASE_TIME + dt.timedelta(days=1))
            .order_by(Order.id)
            .limit(25)
        ).unique().all()
        s.execute(select(func.count()).select_from(Customer)).scalar()
        s.commit()
        self.count("report_set")

    # -- batch jobs -------------------------------------------------------------------------------

    def batch_jobs(self):
        with self.Session() as s:
            paid = s.scalars(select(Order.id).where(Order.status == "paid").order_by(Order.id)).all()
        for start in range(0, len(paid), 40):
            batch = paid[start : start + 40]
            with self.Session() as s:
                s.execute(
                    update(Order)
                    .where(Order.id.in_(batch))
                    .values(status="shipped", shipped_at=BASE_TIME + dt.timedelta(days=3)),
                    execution_options={"synchronize_session": False},
                )
                s.commit()
            self.count("ship_batch")
        with self.Session() as s:
            # Loyalty points for shipped orders (correlated UPDATE).
            shipped_total = (
                select(func.coalesce(func.sum(Order.total_cents), 0))
                .where(Order.customer_id == Customer.id, Order.status == "shipped")
                .scalar_subquery()
            )
            s.execute(update(Customer).values(loyalty_points=shipped_total / 100), execution_options={"synchronize_session": False})
            s.commit()
            self.count("loyalty_job")
        with self.Session() as s:
            # Price change for one category, in batches of primary keys.
            ids = s.scalars(select(Product.id).where(Product.category == "books").order_by(Product.id)).all()
            for start in range(0, len(ids), 15):
                s.execute(
                    update(Product).where(Product.id.in_(ids[start : start + 15])).values(price_cents=Product.price_cents + 100),
                    execution_options={"synchronize_session": False},
                )
            s.commit()
            self.count("reprice_batch")

    # -- the whole day -----------------------------------------------------------------------------

    ROUNDS = 20

    def run(self):
        """Start-up and set-up, then a day of traffic in rounds: every round serves a slice of
        every kind of request (pages, searches, checkouts, order history, account pages), and
        the back office and the jobs run every few rounds — as a running application's traffic
        mixes its endpoints, so any stretch of the log looks like any other."""
        self.startup()
        self.import_catalog()
        self.signups()
        # Several sessions open at once: a browsing session and a report session hold their own
        # pooled connections while checkouts take others.
        browse = self.Session()
        backoffice = self.Session()
        rounds = self.ROUNDS
        per = lambda total: max(1, self.n(total) // rounds)  # noqa: E731
        try:
            for r in range(rounds):
                self.product_pages(browse, per(120))  # left open: holds a pooled connection
                if r % 5 == 0:
                    self.reports(backoffice)  # so this one takes a second connection
                browse.commit()
                self.category_pagination(browse, [CATEGORIES[r % len(CATEGORIES)]])
                self.compare_products(browse, per(80))
                self.checkouts(browse, r * per(260), per(260))
                browse.commit()
                self.search(browse, per(120))
                self.order_history(browse, per(80))
                browse.commit()
                self.account_updates(per(40))
                if r % 5 == 4:
                    self.deletes(3, 2)
                    self.batch_jobs()
        finally:
            browse.close()
            backoffice.close()


def make_engine(url, source, app):
    connect_args = {}
    if source:
        if url.startswith("mysql"):
            connect_args["bind_address"] = source
        else:
            connect_args["source_address"] = (source, 0)
    if app:
        return sa.create_engine(url, connect_args=connect_args, pool_size=5, max_overflow=5, pool_pre_ping=True)
    return sa.create_engine(url, connect_args=connect_args, poolclass=sa.pool.NullPool)


def run(engine_name, migrator_url, app_url, mgmt_source=MGMT, app_source=APP, scale=1.0):
    t0 = time.monotonic()
    mig = make_engine(migrator_url, mgmt_source, app=False)
    migrate(mig)
    mig.dispose()
    app_engine = make_engine(app_url, app_source, app=True)
    app = ShopApp(app_engine, random.Random(SEED), scale)
    app.run()
    app_engine.dispose()
    app.stats["seconds"] = round(time.monotonic() - t0, 1)
    return app.stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=["mysql", "pg"], required=True)
    ap.add_argument("--migrator-url", required=True)
    ap.add_argument("--app-url", required=True)
    ap.add_argument("--mgmt-source", default=MGMT)
    ap.add_argument("--app-source", default=APP)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    stats = run(a.engine, a.migrator_url, a.app_url, a.mgmt_source or None, a.app_source or None, a.scale)
    print(stats, file=sys.stderr)


if __name__ == "__main__":
    main()
