//! Group and meter id allocation (`struct ovn_extend_table` in
//! `lib/extend-table.c`): actions that need an OpenFlow group or meter ask
//! for an id by the group's/meter's text; the same text gets the same id,
//! new texts get the lowest free id starting at 1.

use std::collections::BTreeMap;

/// Largest id handed out (`MAX_EXT_TABLE_ID`).
pub const MAX_EXT_TABLE_ID: u32 = 65535;

/// Desired groups or meters by id, with their specification text.
#[derive(Debug, Clone, Default)]
pub struct ExtendTable {
    by_name: BTreeMap<String, u32>,
    by_id: BTreeMap<u32, String>,
}

impl ExtendTable {
    /// An empty table.
    pub fn new() -> ExtendTable {
        ExtendTable::default()
    }

    /// The id for `name`, allocating the lowest free one if it is new
    /// (`ovn_extend_table_assign_id`); `None` when all ids are taken.
    pub fn assign_id(&mut self, name: &str) -> Option<u32> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        let mut id = 1;
        for &used in self.by_id.keys() {
            if used != id {
                break;
            }
            id += 1;
        }
        if id > MAX_EXT_TABLE_ID {
            return None;
        }
        self.by_name.insert(name.to_string(), id);
        self.by_id.insert(id, name.to_string());
        Some(id)
    }

    /// How many ids are assigned.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no id is assigned.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Frees the ids for which `keep` is false (`ovn_extend_table_sync`
    /// after flows stopped referencing them).
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.by_id.retain(|id, _| keep(*id));
        let by_id = &self.by_id;
        self.by_name.retain(|_, id| by_id.contains_key(id));
    }

    /// The name (definition) of an id.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// All entries, by id.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.by_id.iter().map(|(id, n)| (*id, n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_are_reused_by_name() {
        let mut t = ExtendTable::new();
        assert_eq!(t.assign_id("a"), Some(1));
        assert_eq!(t.assign_id("b"), Some(2));
        assert_eq!(t.assign_id("a"), Some(1));
        assert_eq!(t.name(2), Some("b"));
    }
}
