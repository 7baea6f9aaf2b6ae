//! Database schemas: `.ovsschema` files (RFC 7047 §3.2) with ovsdb-server's
//! extensions (`"unlimited"` maxima, string/integer/real ranges, `enum`,
//! `refTable`/`refType`, `isRoot`, `maxRows`, `indexes`, `ephemeral`,
//! `mutable`, `cksum`).
//!
//! The four schemas OVN tools need are bundled: [`nb_schema`],
//! [`sb_schema`], [`vswitch_schema`] and [`server_schema`].
//!
//! Layout: the schema types and the bundled schemas are here; `types`
//! parses and prints base and column types, `database` whole schemas and
//! their tables, `members` reads the members of their JSON objects.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::atom::{Atom, AtomType};

mod database;
mod members;
mod types;

/// A whole database schema.
#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseSchema {
    /// The database name, e.g. `OVN_Northbound`.
    pub name: String,
    /// The schema version, `x.y.z`.
    pub version: String,
    /// The checksum ovsdb-tool writes, if present.
    pub cksum: Option<String>,
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

/// One table's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSchema {
    /// The table name.
    pub name: String,
    /// Columns by name (without the implicit `_uuid` and `_version`).
    pub columns: BTreeMap<String, ColumnSchema>,
    /// The maximum number of rows, if limited.
    pub max_rows: Option<u64>,
    /// True for root tables: their rows live without being referenced.
    /// When no table of a schema says `isRoot`, every table is a root
    /// (RFC 7047 §3.2, for schemas older than `isRoot`).
    pub is_root: bool,
    /// Unique indexes, each a list of column names.
    pub indexes: Vec<Vec<String>>,
}

/// One column's schema.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSchema {
    /// The column name.
    pub name: String,
    /// The column type.
    pub ty: ColumnType,
    /// Ephemeral columns are not written to disk by ovsdb-server.
    pub ephemeral: bool,
    /// False if the column may only be set on insert.
    pub mutable: bool,
}

/// A column type: a set of `key` atoms, or a map from `key` to `value`,
/// with between `min` and `max` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnType {
    /// The element (or map key) type.
    pub key: BaseType,
    /// The map value type; `None` for sets and scalars.
    pub value: Option<BaseType>,
    /// The minimum number of elements (0 or 1).
    pub min: u64,
    /// The maximum number of elements; `None` is `"unlimited"`.
    pub max: Option<u64>,
}

/// An atomic type with its constraints.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseType {
    /// The atomic type.
    pub atom: AtomType,
    /// The allowed values, if the type is an enumeration.
    pub enum_values: Option<Vec<Atom>>,
    /// Integer lower bound.
    pub min_integer: Option<i64>,
    /// Integer upper bound.
    pub max_integer: Option<i64>,
    /// Real lower bound.
    pub min_real: Option<f64>,
    /// Real upper bound.
    pub max_real: Option<f64>,
    /// Minimum string length (in bytes).
    pub min_length: Option<u64>,
    /// Maximum string length (in bytes).
    pub max_length: Option<u64>,
    /// For UUIDs: the table the UUID refers to.
    pub ref_table: Option<String>,
    /// For references: strong or weak.
    pub ref_type: RefType,
}

/// How a reference constrains its target (RFC 7047 §3.2 `refType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefType {
    /// The referenced row must exist; it is kept alive by the reference.
    Strong,
    /// References to deleted rows are silently removed.
    Weak,
}

/// What is wrong with a schema. The message names the table and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {message}")]
pub struct SchemaError {
    /// Where: the file, table and column as far as known.
    pub context: String,
    /// What is wrong.
    pub message: String,
}

impl TableSchema {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.get(name)
    }
}

macro_rules! bundled {
    ($fn:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        pub fn $fn() -> &'static DatabaseSchema {
            static S: OnceLock<DatabaseSchema> = OnceLock::new();
            S.get_or_init(|| {
                DatabaseSchema::from_str(include_str!(concat!("../schemas/", $file)))
                    .expect(concat!("bundled schema ", $file, " parses"))
            })
        }
    };
}

bundled!(
    nb_schema,
    "ovn-nb.ovsschema",
    "The OVN_Northbound schema of OVN 23.03 (version 7.0.0)."
);
bundled!(
    sb_schema,
    "ovn-sb.ovsschema",
    "The OVN_Southbound schema of OVN 23.03 (version 20.27.0)."
);
bundled!(
    vswitch_schema,
    "vswitch.ovsschema",
    "The Open_vSwitch schema of OVS 3.1."
);
bundled!(
    server_schema,
    "_server.ovsschema",
    "The `_Server` schema served by ovsdb-server 3.1."
);

/// The bundled schema of the database named `db` (`OVN_Northbound`,
/// `OVN_Southbound`, `Open_vSwitch` or `_Server`), if there is one, parsed
/// anew: unlike [`nb_schema`] and the others, it is not kept (a daemon that
/// needs it only while connecting does not hold it for its whole life).
pub fn bundled(db: &str) -> Option<DatabaseSchema> {
    DatabaseSchema::from_str(bundled_text(db)?).ok()
}

/// Whether there is a bundled schema for the database named `db` (see
/// [`bundled`]), without parsing it.
pub fn has_bundled(db: &str) -> bool {
    bundled_text(db).is_some()
}

fn bundled_text(db: &str) -> Option<&'static str> {
    Some(match db {
        "OVN_Northbound" => include_str!("../schemas/ovn-nb.ovsschema"),
        "OVN_Southbound" => include_str!("../schemas/ovn-sb.ovsschema"),
        "Open_vSwitch" => include_str!("../schemas/vswitch.ovsschema"),
        "_Server" => include_str!("../schemas/_server.ovsschema"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_by_name_is_the_kept_schema() {
        for (db, kept) in [
            ("OVN_Northbound", nb_schema()),
            ("OVN_Southbound", sb_schema()),
            ("Open_vSwitch", vswitch_schema()),
            ("_Server", server_schema()),
        ] {
            assert_eq!(bundled(db).as_ref(), Some(kept), "{db}");
            assert_eq!(kept.name, db);
        }
        assert_eq!(bundled("OVN_IC_Northbound"), None);
        assert!(has_bundled("OVN_Southbound"));
        assert!(!has_bundled("OVN_IC_Northbound"));
    }

    #[test]
    fn bundled_schemas_parse_with_their_facts() {
        let nb = nb_schema();
        assert_eq!(
            (nb.name.as_str(), nb.version.as_str()),
            ("OVN_Northbound", "7.0.0")
        );
        let action = &nb.table("ACL").unwrap().column("action").unwrap().ty;
        assert!(action
            .key
            .enum_values
            .as_ref()
            .unwrap()
            .contains(&Atom::from("allow-related")));
        let ports = &nb
            .table("Logical_Switch")
            .unwrap()
            .column("ports")
            .unwrap()
            .ty;
        assert_eq!((ports.min, ports.max), (0, None));
        assert_eq!(ports.key.ref_table.as_deref(), Some("Logical_Switch_Port"));
        assert!(nb.table("NB_Global").unwrap().is_root);
        assert!(!nb.table("ACL").unwrap().is_root);
        assert_eq!(sb_schema().version, "20.27.0");
        assert_eq!(server_schema().name, "_Server");
        assert!(
            server_schema().table("Database").unwrap().is_root,
            "no isRoot anywhere: all roots"
        );
        assert_eq!(vswitch_schema().name, "Open_vSwitch");
    }
}
