//! Intelligence applied to mining sessions: which coin a wallet belongs to ([`wallet`]) and the
//! analyst's wallet watchlist ([`watchlist`]).
//!
//! Architecture invariant: pure functions and immutable tables, no I/O after start-up. Coin
//! inference runs in the recogniser once per login; the watchlist is consulted by the output
//! thread once per record, so workers never touch it.

pub mod wallet;
pub mod watchlist;

pub use watchlist::Watchlist;

/// Severity of an ordinary mining record (Suricata's scale: 1 is the highest).
pub const SEVERITY_DEFAULT: u8 = 2;
/// Severity of a record whose login holds a watchlisted address.
pub const SEVERITY_WATCHLISTED: u8 = 1;
