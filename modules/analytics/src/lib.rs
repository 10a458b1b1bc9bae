//! Analytics (issue 21), begun with the part every other part must go through: the
//! disclosure control of market insights (`disclosure`), pure and tested on its own, so
//! that no figure about the market can reveal one company. Dashboards, rollups, releases
//! and their GraphQL surface are not built yet; nothing here is wired into the server.

pub mod disclosure;
