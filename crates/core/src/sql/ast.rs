//! The sqlparser path: run only on a cache miss, on bounded, comment-free text.
//!
//! sqlparser gives the structure the token classifier can only approximate — which statement a
//! `WITH` really runs, whether `EXPLAIN` executes, every relation in nested queries — so when it
//! parses, its class wins and its relations are merged into the objects. It is never trusted to
//! terminate on hostile input by itself: the recursion limit is always set (the crate is built
//! without `recursive-protection`), and the caller skips it for long or deeply nested text.

use std::ops::ControlFlow;

use sqlparser::ast::{
    ContextModifier, Ident, ObjectName, ObjectType, Set, SetExpr, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect as SqlDialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;

use super::{Dialect, StatementClass};

/// Recursion budget handed to sqlparser; deep enough for real queries, shallow enough for a
/// 2 MiB thread stack in debug builds.
pub(crate) const RECURSION_LIMIT: usize = 48;

/// What the AST says about one statement.
#[derive(Debug)]
pub(crate) struct AstInfo {
    pub class: Option<StatementClass>,
    pub relations: Vec<String>,
}

/// Parses `sql`; `None` when sqlparser rejects it.
pub(crate) fn parse(sql: &str, dialect: Dialect) -> Option<Vec<AstInfo>> {
    let d: &dyn SqlDialect = match dialect {
        Dialect::Mysql => &MySqlDialect {},
        Dialect::Postgres => &PostgreSqlDialect {},
        Dialect::Generic => &GenericDialect {},
    };
    let stmts = Parser::new(d)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .ok()?;
    Some(
        stmts
            .iter()
            .map(|s| AstInfo {
                class: class_of(s),
                relations: relations(s, dialect),
            })
            .collect(),
    )
}

fn body_class(body: &SetExpr) -> StatementClass {
    match body {
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            StatementClass::Dml
        }
        SetExpr::Query(q) => body_class(&q.body),
        SetExpr::SetOperation { left, right, .. } => {
            if body_class(left) == StatementClass::Dml || body_class(right) == StatementClass::Dml {
                StatementClass::Dml
            } else {
                StatementClass::Dql
            }
        }
        _ => StatementClass::Dql,
    }
}

/// Class from the AST for the variants where structure matters; `None` defers to tokens.
fn class_of(stmt: &Statement) -> Option<StatementClass> {
    use StatementClass::*;
    Some(match stmt {
        Statement::Query(q) => {
            let cte_writes = q
                .with
                .as_ref()
                .is_some_and(|w| w.cte_tables.iter().any(|c| body_class(&c.query.body) == Dml));
            if cte_writes { Dml } else { body_class(&q.body) }
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_) => Dml,
        Statement::Copy { to, .. } => {
            if *to {
                Dql
            } else {
                Dml
            }
        }
        Statement::Explain {
            analyze, statement, ..
        } => {
            if *analyze && class_of(statement) == Some(Dml) {
                Dml
            } else {
                Dql
            }
        }
        Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::CreateUser(_)
        | Statement::AlterUser(_) => Dcl,
        Statement::Drop { object_type, .. } => match object_type {
            ObjectType::Role | ObjectType::User => Dcl,
            _ => Ddl,
        },
        Statement::CreateTable(_)
        | Statement::CreateView(_)
        | Statement::CreateIndex(_)
        | Statement::AlterTable(_)
        | Statement::Truncate(_)
        | Statement::CreateSchema { .. }
        | Statement::CreateDatabase { .. }
        | Statement::AlterView(_) => Ddl,
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Tcl,
        Statement::CreateExtension(_)
        | Statement::DropExtension(_)
        | Statement::Kill { .. }
        | Statement::Flush { .. }
        | Statement::Install { .. } => Admin,
        Statement::Set(Set::SingleAssignment {
            scope: Some(ContextModifier::Global),
            ..
        }) => Admin,
        Statement::Use(_) => Session,
        _ => return None,
    })
}

/// Folds an identifier as the engine does: unquoted lower-case; PostgreSQL keeps quoted case.
pub(crate) fn fold_ident(id: &Ident, dialect: Dialect) -> String {
    if id.quote_style.is_none() || dialect == Dialect::Mysql || id.quote_style == Some('`') {
        id.value.to_lowercase()
    } else {
        id.value.clone()
    }
}

fn fold_object_name(name: &ObjectName, dialect: Dialect) -> String {
    let mut out = String::new();
    for (i, part) in name.0.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match part.as_ident() {
            Some(id) => out.push_str(&fold_ident(id, dialect)),
            None => out.push_str(&part.to_string().to_lowercase()),
        }
    }
    out
}

/// Relations (tables and views) a statement touches, without table functions.
struct Relations {
    dialect: Dialect,
    skip_next: bool,
    out: Vec<String>,
}

impl Visitor for Relations {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { args: Some(_), .. } = tf {
            self.skip_next = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, rel: &ObjectName) -> ControlFlow<()> {
        if std::mem::take(&mut self.skip_next) {
            return ControlFlow::Continue(());
        }
        let name = fold_object_name(rel, self.dialect);
        if !name.is_empty() && name != "dual" && !self.out.contains(&name) {
            self.out.push(name);
        }
        ControlFlow::Continue(())
    }
}

fn relations(stmt: &Statement, dialect: Dialect) -> Vec<String> {
    let mut v = Relations {
        dialect,
        skip_next: false,
        out: Vec::new(),
    };
    let _ = stmt.visit(&mut v);
    v.out
}
