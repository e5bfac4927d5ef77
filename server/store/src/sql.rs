//! SQL that runs on both backends: a small builder writing `$n` placeholders (which SQLite and
//! PostgreSQL both accept; `QueryBuilder<Any>` writes `?`, which PostgreSQL refuses), the few
//! places where the dialects differ, and a decoder of integer flags.

use sqlx::any::{AnyArguments, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::{Any, Arguments, Decode, Encode, Type};

/// Which database a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row locks for a read-modify-write. SQLite has none (and needs none: its write
    /// transactions take the database's write lock at `begin immediate`).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " for update",
        }
    }

    /// A table read from a JSON array of objects bound as one parameter (`placeholder`), with
    /// `columns` (name, PostgreSQL type) taken from the objects' keys of the same name: usable
    /// where a `from` item goes, named `alias`.
    ///
    /// Hot statements pass their rows this way instead of a multi-row `values (...)`: the text
    /// is the same whatever the number of rows, so each connection prepares and plans it once.
    /// A `values` list of n rows is a new statement for every n, parsed and planned again each
    /// time (on PostgreSQL that cost more than storing the rows: ~20 ms for 500 readings).
    pub(crate) fn json_table(self, placeholder: &str, alias: &str, columns: &[(&str, &str)]) -> String {
        match self {
            Dialect::Postgres => {
                let cols: Vec<String> = columns.iter().map(|(name, ty)| format!("{name} {ty}")).collect();
                format!("json_to_recordset({placeholder}::json) as {alias}({})", cols.join(", "))
            }
            Dialect::Sqlite => {
                let cols: Vec<String> =
                    columns.iter().map(|(name, _)| format!("value ->> '{name}' as {name}")).collect();
                format!("(select {} from json_each({placeholder})) as {alias}", cols.join(", "))
            }
        }
    }

    /// The items of a JSON array of numbers or strings bound as `placeholder`, of PostgreSQL
    /// type `ty`, as a subquery for `in (...)` (one statement text whatever their number).
    pub(crate) fn json_list(self, placeholder: &str, ty: &str) -> String {
        match self {
            Dialect::Postgres => format!("select value::{ty} from json_array_elements_text({placeholder}::json)"),
            Dialect::Sqlite => format!("select value from json_each({placeholder})"),
        }
    }
}

/// Dynamic SQL with numbered placeholders.
#[derive(Default)]
pub(crate) struct Sql {
    text: String,
    args: AnyArguments,
}

impl Sql {
    pub(crate) fn new(text: impl AsRef<str>) -> Sql {
        Sql { text: text.as_ref().to_owned(), args: AnyArguments::default() }
    }

    pub(crate) fn push(&mut self, text: impl AsRef<str>) -> &mut Sql {
        self.text.push_str(text.as_ref());
        self
    }

    /// Adds an argument without writing it; returns its placeholder (`$n`), e.g. to use it twice.
    pub(crate) fn arg<'q, T>(&mut self, value: T) -> String
    where
        T: Encode<'q, Any> + Type<Any> + 'q,
    {
        self.args.add(value).expect("values of the Any driver encode");
        format!("${}", self.args.len())
    }

    /// Adds rows (or a list) as one JSON argument, for [`Dialect::json_table`] or
    /// [`Dialect::json_list`]; returns its placeholder.
    pub(crate) fn json_arg<T: serde::Serialize + ?Sized>(&mut self, rows: &T) -> String {
        self.arg(serde_json::to_string(rows).expect("rows of numbers and strings serialise"))
    }

    /// Writes a placeholder bound to `value`.
    pub(crate) fn bind<'q, T>(&mut self, value: T) -> &mut Sql
    where
        T: Encode<'q, Any> + Type<Any> + 'q,
    {
        let p = self.arg(value);
        self.text.push_str(&p);
        self
    }

    /// Writes `v1, v2, ...`, one placeholder per item.
    pub(crate) fn list<'q, I, T>(&mut self, items: I) -> &mut Sql
    where
        I: IntoIterator<Item = T>,
        T: Encode<'q, Any> + Type<Any> + 'q,
    {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(item);
        }
        self
    }

    pub(crate) fn query(self) -> sqlx::query::Query<'static, Any, AnyArguments> {
        sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)
    }

    pub(crate) fn query_as<O>(self) -> sqlx::query::QueryAs<'static, Any, O, AnyArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(sqlx::AssertSqlSafe(self.text), self.args)
    }

    pub(crate) fn query_scalar<O>(self) -> sqlx::query::QueryScalar<'static, Any, O, AnyArguments>
    where
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(sqlx::AssertSqlSafe(self.text), self.args)
    }
}

/// A flag stored as an integer 0/1 in both schemas (the Any driver decodes `bool` only from a
/// real boolean): `#[sqlx(try_from = "crate::sql::Flag")]` on a `bool` field.
#[derive(Debug, Clone, Copy)]
pub struct Flag(bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind().is_integer() || ty.kind() == AnyTypeInfoKind::Bool
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <i64 as Decode<Any>>::decode(value.clone()) {
            Ok(v) => Ok(Flag(v != 0)),
            Err(_) => Ok(Flag(<bool as Decode<Any>>::decode(value)?)),
        }
    }
}
