//! The definitions of every property the Postgres connector reads.
//!
//! [`PROPERTIES`] is the one list of the connector's properties: the config parser accepts
//! exactly these (plus Kafka Connect's framework prefixes), and the REST API serves them as
//! Kafka Connect's `ConfigDef` (`GET /connector-plugins/{plugin}/config`, the `definition`
//! of each entry in `…/config/validate`). Names, types, defaults and wording follow
//! Debezium's Postgres connector where it has the property; Tributary's own extensions say
//! so in their documentation. A default is written as the text the parser accepts.
//!
//! The publishing side (tributary-kafka's `PUBLISH_PROPERTIES`: transaction metadata,
//! heartbeats, name adjustment, batch bounds) reads some of these properties; the daemon's
//! tests check that every one of them is listed here.

mod connection;
mod events;
mod selection;

pub use tributary_core::config::{Importance, PropertyDef, PropertyKind};

/// The definition of `name`, if the connector has such a property.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

const COMMON: &str = "Common";
const CONNECTION: &str = "Connection";
const REPLICATION: &str = "Replication";
const FILTERS: &str = "Filters";
const SNAPSHOT: &str = "Snapshot";
const TYPES: &str = "Types";
const EVENTS: &str = "Events";
const PUBLISHING: &str = "Publishing";

/// The groups of properties, in the order the REST API shows them.
const GROUPS: &[&[PropertyDef]] = &[
    connection::CONNECTION_PROPERTIES,
    selection::SELECTION_PROPERTIES,
    events::EVENT_PROPERTIES,
];

const COUNT: usize = {
    let mut n = 0;
    let mut g = 0;
    while g < GROUPS.len() {
        n += GROUPS[g].len();
        g += 1;
    }
    n
};

/// Every property of the Postgres connector, grouped as the REST API shows them.
pub const PROPERTIES: &[PropertyDef] = &{
    let mut all = [connection::CONNECTION_PROPERTIES[0]; COUNT];
    let (mut g, mut n) = (0, 0);
    while g < GROUPS.len() {
        let mut i = 0;
        while i < GROUPS[g].len() {
            all[n] = GROUPS[g][i];
            (i, n) = (i + 1, n + 1);
        }
        g += 1;
    }
    all
};
