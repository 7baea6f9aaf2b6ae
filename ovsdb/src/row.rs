//! A row's columns, as compact as a replica of tens of thousands of rows
//! needs them to be.
//!
//! A row is a vector of (column name, datum) pairs sorted by name, sized
//! to its columns: one allocation per row. Column names are `&'static
//! str`: literals as written, other names (a schema's) interned, one copy
//! per distinct name in the process, so that a row does not carry a string
//! of its own for each column name.
//!
//! The interface is that of the ordered map a row used to be (`get`,
//! `insert`, `remove`, `iter` in column order, `retain`, `entry`...):
//! rows are small (an OVN table has at most a few dozen columns), so a
//! binary search over a vector is as quick as a tree, at a fraction of
//! its memory. At k8s 100×100 scale (75,000 rows in the NB and SB
//! replicas of `ovnflow northd`), a tree's leaf (544 bytes whatever the
//! row) plus a string per column name cost twice the rows' own data.

use std::collections::HashSet;
use std::fmt;
use std::sync::{OnceLock, RwLock};

use crate::datum::Datum;

/// The interned copy of column name `name`: the same `&'static str` for
/// equal names, allocated once per distinct name. Column names come from
/// schemas (rows are checked against them before they are built), so the
/// set of names stays as small as the schemas in use.
pub fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    if let Some(n) = names.read().unwrap_or_else(|e| e.into_inner()).get(name) {
        return n;
    }
    let mut w = names.write().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = w.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    w.insert(leaked);
    leaked
}

/// Something that names a column. A `&'static str` (a literal, or a name
/// already in a row) is kept as it is; other strings are interned when a
/// row keeps them, and only then: replacing a column's value interns
/// nothing.
pub trait ColumnName {
    /// The name.
    fn name(&self) -> &str;
    /// The name as a row keeps it.
    fn interned(self) -> &'static str;
}

impl ColumnName for &'static str {
    fn name(&self) -> &str {
        self
    }
    fn interned(self) -> &'static str {
        self
    }
}

impl ColumnName for String {
    fn name(&self) -> &str {
        self
    }
    fn interned(self) -> &'static str {
        intern(&self)
    }
}

impl ColumnName for &String {
    fn name(&self) -> &str {
        self
    }
    fn interned(self) -> &'static str {
        intern(self)
    }
}

/// A row: column name to datum, in column-name order. Rows carry only the
/// columns they were given; `_uuid` and `_version` are not stored as
/// columns.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Row {
    cols: Vec<(&'static str, Datum)>,
}

impl Row {
    /// An empty row.
    pub const fn new() -> Row {
        Row { cols: Vec::new() }
    }

    fn find(&self, column: &str) -> Result<usize, usize> {
        self.cols.binary_search_by(|(c, _)| (*c).cmp(column))
    }

    /// The value of `column`, when the row has it.
    pub fn get(&self, column: &str) -> Option<&Datum> {
        self.find(column).ok().map(|i| &self.cols[i].1)
    }

    /// The value of `column` to change in place, when the row has it.
    pub fn get_mut(&mut self, column: &str) -> Option<&mut Datum> {
        self.find(column).ok().map(|i| &mut self.cols[i].1)
    }

    /// Whether the row has `column`.
    pub fn contains_key(&self, column: &str) -> bool {
        self.find(column).is_ok()
    }

    /// Sets `column` to `value`, returning the value it replaced.
    pub fn insert(&mut self, column: impl ColumnName, value: Datum) -> Option<Datum> {
        match self.find(column.name()) {
            Ok(i) => Some(std::mem::replace(&mut self.cols[i].1, value)),
            Err(i) => {
                self.cols.insert(i, (column.interned(), value));
                None
            }
        }
    }

    /// Removes `column`, returning its value.
    pub fn remove(&mut self, column: &str) -> Option<Datum> {
        self.find(column).ok().map(|i| self.cols.remove(i).1)
    }

    /// The slot of `column`, to fill when it is missing.
    pub fn entry(&mut self, column: impl ColumnName) -> Entry<'_> {
        let at = self.find(column.name());
        let column = column.interned();
        Entry {
            row: self,
            column,
            at,
        }
    }

    /// Keeps only the columns `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&'static str, &mut Datum) -> bool) {
        self.cols.retain_mut(|(c, d)| keep(c, d));
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    /// Whether the row has no column.
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }

    /// The columns and their values, in column-name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.cols.iter())
    }

    /// The column names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.cols.iter().map(|(c, _)| *c)
    }

    /// The values, in column-name order.
    pub fn values(&self) -> impl Iterator<Item = &Datum> + '_ {
        self.cols.iter().map(|(_, d)| d)
    }

    /// Releases the room kept for columns not there (a row kept for long
    /// holds exactly its columns).
    pub fn shrink_to_fit(&mut self) {
        self.cols.shrink_to_fit();
    }
}

/// The slot of one column of a row ([`Row::entry`]).
pub struct Entry<'r> {
    row: &'r mut Row,
    column: &'static str,
    at: Result<usize, usize>,
}

impl<'r> Entry<'r> {
    /// The value, `make` inserted first when the column is missing.
    pub fn or_insert_with(self, make: impl FnOnce() -> Datum) -> &'r mut Datum {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.row.cols.insert(i, (self.column, make()));
                i
            }
        };
        &mut self.row.cols[i].1
    }
}

/// The columns of a row and their values ([`Row::iter`]).
#[derive(Clone)]
pub struct Iter<'r>(std::slice::Iter<'r, (&'static str, Datum)>);

impl<'r> Iterator for Iter<'r> {
    type Item = (&'static str, &'r Datum);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(c, d)| (*c, d))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'r> IntoIterator for &'r Row {
    type Item = (&'static str, &'r Datum);
    type IntoIter = Iter<'r>;
    fn into_iter(self) -> Iter<'r> {
        self.iter()
    }
}

impl IntoIterator for Row {
    type Item = (&'static str, Datum);
    type IntoIter = std::vec::IntoIter<(&'static str, Datum)>;
    fn into_iter(self) -> Self::IntoIter {
        self.cols.into_iter()
    }
}

impl<K: ColumnName> FromIterator<(K, Datum)> for Row {
    fn from_iter<I: IntoIterator<Item = (K, Datum)>>(iter: I) -> Row {
        let mut row = Row::new();
        row.extend(iter);
        row.shrink_to_fit();
        row
    }
}

impl<K: ColumnName> Extend<(K, Datum)> for Row {
    fn extend<I: IntoIterator<Item = (K, Datum)>>(&mut self, iter: I) {
        for (k, d) in iter {
            self.insert(k, d);
        }
    }
}

impl<K: ColumnName, const N: usize> From<[(K, Datum); N]> for Row {
    fn from(cols: [(K, Datum); N]) -> Row {
        cols.into_iter().collect()
    }
}

impl std::ops::Index<&str> for Row {
    type Output = Datum;
    fn index(&self, column: &str) -> &Datum {
        self.get(column)
            .unwrap_or_else(|| panic!("row has no column {column}"))
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Atom;

    fn s(v: &str) -> Datum {
        Datum::Set(vec![Atom::String(v.into())])
    }

    #[test]
    fn columns_stay_sorted_and_unique_as_in_a_map() {
        let mut row = Row::new();
        assert_eq!(row.insert("name", s("a")), None);
        assert_eq!(row.insert(String::from("addresses"), s("b")), None);
        assert_eq!(row.insert("name", s("c")), Some(s("a")));
        row.entry("up").or_insert_with(|| s("d"));
        row.entry("up").or_insert_with(|| s("e"));
        assert_eq!(row.keys().collect::<Vec<_>>(), ["addresses", "name", "up"]);
        assert_eq!(row.get("name"), Some(&s("c")));
        assert_eq!(row["up"], s("d"));
        assert_eq!(row.remove("addresses"), Some(s("b")));
        assert!(!row.contains_key("addresses"));
        let same: Row = [("up", s("d")), ("name", s("c"))].into();
        assert_eq!(row, same);
        assert_eq!(
            format!("{row:?}"),
            format!(
                "{:?}",
                std::collections::BTreeMap::from([("name", s("c")), ("up", s("d"))])
            )
        );
        assert!(std::ptr::eq(intern(&String::from("name")), intern("name")));
    }
}
