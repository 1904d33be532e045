//! Command-line interface: argument parsing and the subcommands. The binary (`src/main.rs`)
//! only wires this module; everything a subcommand needs from the engine lives in the library.

#[cfg(feature = "aws")]
pub mod aws;
pub mod classify;
pub mod envelope;
pub mod lake;
pub mod learn;
#[cfg(feature = "aws")]
pub mod redrive;
pub mod replay;
pub mod rules;
pub mod sigma;
pub mod tune;

use std::path::PathBuf;

use clap::Args;

use laneguard_core::sql::Dialect;

/// `laneguard classify`: classify SQL statements, one JSON line each.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// SQL dialect of the input.
    #[arg(long, value_enum, default_value = "generic")]
    pub dialect: DialectArg,
    /// File of SQL statements separated by `;` (`-` or nothing: standard input).
    pub input: Option<PathBuf>,
}

/// Dialect names accepted on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DialectArg {
    /// MySQL, MariaDB, Aurora MySQL.
    Mysql,
    /// PostgreSQL, Aurora PostgreSQL.
    Postgres,
    /// Anything else.
    Generic,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Mysql => Dialect::Mysql,
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Generic => Dialect::Generic,
        }
    }
}
