//! Which SB row stands for each of our rows.

use std::collections::HashMap;

use ovsdb::Uuid;

/// Our row `(table, our UUID)` → the SB row standing for it, and back.
///
/// Only renamings are stored: a row bound to the SB row of its own UUID
/// (every row we inserted, i.e. nearly all of them) is not, since that is
/// what an unbound row stands for ([`Binding::sb`]). Tens of thousands of
/// identity pairs would otherwise be kept (twice) for nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    to_sb: HashMap<String, HashMap<Uuid, Uuid>>,
    to_ours: HashMap<String, HashMap<Uuid, Uuid>>,
}

impl Binding {
    /// Binds our row to an SB row.
    pub fn bind(&mut self, table: &str, ours: Uuid, sb: Uuid) {
        if ours == sb {
            self.unbind(table, ours);
            return;
        }
        fn table_of<'a>(
            m: &'a mut HashMap<String, HashMap<Uuid, Uuid>>,
            table: &str,
        ) -> &'a mut HashMap<Uuid, Uuid> {
            if !m.contains_key(table) {
                m.insert(table.to_string(), HashMap::new());
            }
            m.get_mut(table).expect("just inserted")
        }
        if let Some(old) = table_of(&mut self.to_sb, table).insert(ours, sb) {
            if old != sb {
                table_of(&mut self.to_ours, table).remove(&old);
            }
        }
        table_of(&mut self.to_ours, table).insert(sb, ours);
    }

    /// Forgets our row.
    pub fn unbind(&mut self, table: &str, ours: Uuid) {
        if let Some(sb) = self.to_sb.get_mut(table).and_then(|t| t.remove(&ours)) {
            if let Some(t) = self.to_ours.get_mut(table) {
                t.remove(&sb);
            }
        }
    }

    /// The SB row of our row (our UUID when unbound: a row we insert keeps it).
    pub fn sb(&self, table: &str, ours: Uuid) -> Uuid {
        self.to_sb
            .get(table)
            .and_then(|t| t.get(&ours))
            .copied()
            .unwrap_or(ours)
    }

    /// Number of rows bound to an SB row of another UUID.
    pub fn len(&self) -> usize {
        self.to_sb.values().map(HashMap::len).sum()
    }

    /// True when every row stands for the SB row of its own UUID.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many rows are bound to SB rows of another UUID (rows another
    /// northd wrote): [`Binding::len`].
    pub fn adopted(&self) -> usize {
        self.len()
    }
}

/// How a plan changes the binding once its transaction commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingUpdate {
    /// A full reconciliation: the new binding.
    Replace(Binding),
    /// An incremental plan: rows bound (`Some(sb)`) or unbound (`None`), in
    /// order.
    Apply(Vec<(String, Uuid, Option<Uuid>)>),
}

impl Default for BindingUpdate {
    fn default() -> Self {
        BindingUpdate::Apply(Vec::new())
    }
}

impl BindingUpdate {
    /// `binding` once the update is applied.
    pub fn apply_to(self, binding: &mut Binding) {
        match self {
            BindingUpdate::Replace(b) => *binding = b,
            BindingUpdate::Apply(changes) => {
                for (table, ours, sb) in changes {
                    match sb {
                        Some(s) => binding.bind(&table, ours, s),
                        None => binding.unbind(&table, ours),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_rebind_unbind() {
        let u = Uuid::from_u128;
        let mut b = Binding::default();
        b.bind("T", u(1), u(10));
        b.bind("T", u(2), u(2));
        assert_eq!((b.len(), b.adopted()), (1, 1), "identity is not stored");
        assert_eq!(b.sb("T", u(2)), u(2));
        b.bind("T", u(1), u(11));
        assert_eq!(b.sb("T", u(1)), u(11));
        assert_eq!(b.sb("U", u(1)), u(1), "tables are separate");
        b.bind("T", u(3), u(30));
        b.bind("T", u(3), u(3));
        assert_eq!(b.sb("T", u(3)), u(3), "bound back to its own row");
        BindingUpdate::Apply(vec![("T".into(), u(1), None)]).apply_to(&mut b);
        assert_eq!(b.sb("T", u(1)), u(1));
        assert!(b.is_empty());
    }
}
