//! Incremental compiler from the OVN Northbound database to the Southbound database.
