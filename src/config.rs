//! Validated configuration: what the command line becomes once checked.

use crate::flow::FlowLimits;
/// The home network lives with the gate that uses it ([`crate::verdict`]).
pub use crate::verdict::{HomeNet, DEFAULT_HOME_NET};

/// Everything a worker needs to know.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub home_net: HomeNet,
    pub flow: FlowLimits,
    /// The wallet watchlist (empty when none was given); read by the output thread only.
    pub watchlist: std::sync::Arc<crate::intel::Watchlist>,
    /// Known pool domains: the shipped list plus `--pool-list` files (TLS SNI, DNS answers);
    /// replaced whole when the lists are reloaded (SIGHUP).
    pub pools: std::sync::Arc<crate::intel::SharedPools>,
}
