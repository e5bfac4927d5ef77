//! One storage test suite, run against both backends: `both!(test_fn)` makes `test_fn::sqlite`
//! (a fresh file in a temp dir) and `test_fn::postgres` (a fresh database `eldercare_t_<random>`
//! on `ELDERCARE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, dropped at
//! the end). A PostgreSQL that can not be reached fails the test; it is never skipped.

#![allow(dead_code)]

use eldercare_store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database; removed when dropped.
pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

pub fn admin_url() -> String {
    std::env::var("ELDERCARE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_database(admin: &str, name: &str) -> String {
    let (base, _) = admin.split_once('?').unwrap_or((admin, ""));
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[scheme_end..].rfind('/') {
        Some(i) => format!("{}/{name}", &base[..scheme_end + i]),
        None => format!("{base}/{name}"),
    }
}

impl Db {
    pub async fn fresh(backend: Backend) -> Db {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("t.db").display());
                Db { url, _dir: Some(dir), pg: None }
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let admin = admin_url();
                let name = format!("eldercare_t_{:016x}", rand::random::<u64>());
                let pool = sqlx::AnyPool::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {admin} is unreachable ({e}); the storage tests need it \
                         (set ELDERCARE_TEST_PG_URL to a server where the user may create databases)"
                    )
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("creating the test database {name} on {admin}: {e}"));
                pool.close().await;
                Db { url: with_database(&admin, &name), _dir: None, pg: Some((admin, name)) }
            }
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else { return };
        // Drop may run inside a runtime: use a thread with its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let pool = sqlx::AnyPool::connect(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)")))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("could not drop the test database: {e}");
        }
    }
}

/// `both!(f)`: runs `async fn f(Backend)` as `f::sqlite` and `f::postgres`.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    };
}
