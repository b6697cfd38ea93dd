//! Which coin a wallet address belongs to, from its format, validated by its checksum where the
//! check is cheap.
//!
//! Why: the login a miner sends is usually `WALLET[.worker]`, and the wallet tells an analyst
//! which coin is mined and where the money goes. A string that merely looks like an address
//! (right prefix, right length) is reported with `checksum: false`; one whose checksum verifies
//! is certain. A mixed-case Ethereum address whose EIP-55 checksum fails, or a base58check or
//! bech32 string whose checksum fails, is not an address at all (`None`).
//!
//! Formats: Bitcoin legacy (base58check P2PKH `1…`, P2SH `3…`), bech32/bech32m segwit v0/v1+
//! (`bc1…`, `tb1…`, Litecoin `ltc1…`), Litecoin `L…`/`M…`, Dogecoin `D…`/`A…`/`9…`, Ravencoin
//! `R…`, Dash `X…`, Zcash transparent `t1…`/`t3…`, Bitcoin Cash cashaddr (`bitcoincash:q…`, or
//! bare `q…`/`p…`), Monero primary `4…` (95 chars), integrated `4…` (106) and subaddress `8…`
//! (95) with their Keccak checksum, Ethereum-format `0x` + 40 hex (EIP-55 when mixed case).
//!
//! Cost: only strings of a plausible length and alphabet are decoded, each at most once per
//! login; nothing here allocates more than the input's length.

use sha3::{Digest, Keccak256};

/// What a wallet string is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalletInfo {
    /// Ticker of the coin (`BTC`, `XMR`, ...). `ETH` means an Ethereum-format address, which is
    /// shared by every EVM chain (ETC and others).
    pub coin: &'static str,
    /// Whether a checksum was verified (false: recognised by prefix, length and alphabet only).
    pub checksum: bool,
}

const fn info(coin: &'static str, checksum: bool) -> Option<WalletInfo> {
    Some(WalletInfo { coin, checksum })
}

/// Longest string worth examining: the longest format here (Monero integrated, cashaddr with
/// prefix) is well below it.
const MAX_ADDRESS_LEN: usize = 128;

/// Identifies `s` as a wallet address, or `None`.
pub fn identify(s: &str) -> Option<WalletInfo> {
    if s.len() < 26 || s.len() > MAX_ADDRESS_LEN {
        return None;
    }
    let lower = s.get(..4).map(|p| p.to_ascii_lowercase()).unwrap_or_default();
    if lower.starts_with("0x") {
        return ethereum(s);
    }
    if lower.starts_with("bc1") || lower.starts_with("tb1") || lower.starts_with("ltc1") {
        return segwit(s);
    }
    if lower.starts_with("bitc") || ((lower.starts_with('q') || lower.starts_with('p')) && s.len() == 42) {
        if let Some(w) = cashaddr(s) {
            return Some(w);
        }
    }
    if (s.starts_with('4') || s.starts_with('8')) && (s.len() == 95 || s.len() == 106) {
        if let Some(w) = monero(s) {
            return Some(w);
        }
    }
    base58check(s)
}

/// `0x` + 40 hex digits. All-lower or all-upper case carries no checksum; mixed case must pass
/// EIP-55 (each letter upper-case iff the matching nibble of keccak256(lowercase hex) >= 8).
fn ethereum(s: &str) -> Option<WalletInfo> {
    let hex = s.get(2..)?;
    if hex.len() != 40 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let has_lower = hex.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|c| c.is_ascii_uppercase());
    if !(has_lower && has_upper) {
        return info("ETH", false);
    }
    let hash = Keccak256::digest(hex.to_ascii_lowercase().as_bytes());
    for (i, c) in hex.bytes().enumerate() {
        if !c.is_ascii_alphabetic() {
            continue;
        }
        let byte = *hash.get(i / 2)?;
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        if (nibble >= 8) != c.is_ascii_uppercase() {
            return None;
        }
    }
    info("ETH", true)
}

/// Segwit addresses: bech32 for v0, bech32m for v1+ (taproot); the crate checks both.
fn segwit(s: &str) -> Option<WalletInfo> {
    let (hrp, _version, _program) = bech32::segwit::decode(s).ok()?;
    match hrp.to_lowercase().as_str() {
        "bc" => info("BTC", true),
        "tb" => info("BTC-testnet", true),
        "ltc" => info("LTC", true),
        _ => None,
    }
}

/// Base58check legacy addresses, by version byte(s) after the checksum verifies.
fn base58check(s: &str) -> Option<WalletInfo> {
    if s.len() > 40 {
        return None;
    }
    let data = bs58::decode(s).with_check(None).into_vec().ok()?;
    let coin = match (data.len(), data.first(), data.get(1)) {
        // Zcash transparent: two version bytes, then the 20-byte hash.
        (22, Some(0x1c), Some(0xb8 | 0xbd)) => "ZEC",
        (21, Some(v), _) => match v {
            0x00 | 0x05 => "BTC",
            0x30 | 0x32 => "LTC",
            0x1e | 0x16 => "DOGE",
            0x3c | 0x7a => "RVN",
            0x4c | 0x10 => "DASH",
            0x6f | 0xc4 => "BTC-testnet",
            _ => return None,
        },
        _ => return None,
    };
    info(coin, true)
}

const CASHADDR_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Bitcoin Cash cashaddr: base32 with a 40-bit BCH checksum over the prefix. The bech32 crate
/// does not implement this checksum (different generator), hence the few lines here.
fn cashaddr(s: &str) -> Option<WalletInfo> {
    let lower = s.to_ascii_lowercase();
    if s != lower && s != s.to_ascii_uppercase() {
        return None;
    }
    let payload = lower.strip_prefix("bitcoincash:").unwrap_or(&lower);
    if payload.len() != 42 && payload.len() != 54 {
        return None;
    }
    let mut values = Vec::with_capacity(payload.len());
    for c in payload.bytes() {
        values.push(CASHADDR_CHARSET.iter().position(|&x| x == c)? as u8);
    }
    let prefix = b"bitcoincash".iter().map(|c| c & 0x1f);
    let all = prefix.chain(std::iter::once(0)).chain(values.iter().copied());
    (cashaddr_polymod(all) == 0).then_some(WalletInfo { coin: "BCH", checksum: true })
}

fn cashaddr_polymod(values: impl Iterator<Item = u8>) -> u64 {
    const GEN: [u64; 5] = [0x98f2bc8e61, 0x79b76d99e2, 0xf33e5fb3c4, 0xae2eabe2a8, 0x1e4f43e470];
    let mut c: u64 = 1;
    for d in values {
        let c0 = c >> 35;
        c = ((c & 0x07_ffff_ffff) << 5) ^ u64::from(d);
        for (i, g) in GEN.iter().enumerate() {
            if (c0 >> i) & 1 == 1 {
                c ^= g;
            }
        }
    }
    c ^ 1
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Monero's base58 works in 8-byte blocks of 11 characters; a short last block of `n` bytes
/// takes `BLOCK_CHARS[n]` characters.
const BLOCK_CHARS: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];

/// Monero addresses: network byte 18 (primary), 19 (integrated) or 42 (subaddress), two
/// 32-byte keys (plus an 8-byte payment id when integrated), then the first 4 bytes of the
/// Keccak-256 of everything before them.
fn monero(s: &str) -> Option<WalletInfo> {
    let data = monero_base58(s.as_bytes())?;
    let (body, check) = data.split_at(data.len().checked_sub(4)?);
    let ok = Keccak256::digest(body).get(..4) == Some(check);
    match (body.first(), body.len()) {
        (Some(18), 65) | (Some(19), 73) | (Some(42), 65) if ok => info("XMR", true),
        _ => None,
    }
}

fn monero_base58(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    for block in s.chunks(11) {
        let bytes = BLOCK_CHARS.iter().position(|&n| n == block.len())?;
        let mut n: u128 = 0;
        for c in block {
            let d = BASE58.iter().position(|x| x == c)? as u128;
            n = n.checked_mul(58)?.checked_add(d)?;
        }
        if bytes < 8 && n >> (8 * bytes) != 0 || n > u128::from(u64::MAX) {
            return None;
        }
        let be = (n as u64).to_be_bytes();
        out.extend_from_slice(be.get(8 - bytes..)?);
    }
    Some(out)
}

/// The coin implied by a mining algorithm name, when it names one coin's algorithm.
pub fn coin_from_algo(algo: &str) -> Option<&'static str> {
    let a = algo.to_ascii_lowercase();
    let a = a.split(',').next().unwrap_or_default().trim();
    Some(match a {
        "rx/0" | "randomx" | "cn/r" | "cn/2" | "cryptonight" => "XMR",
        "rx/wow" => "WOW",
        "kawpow" => "RVN",
        "etchash" => "ETC",
        "ethash" => "ETH",
        "equihash" | "equihash200_9" | "equihash/200,9" => "ZEC",
        "sha256d" | "sha256" => "BTC",
        "scrypt" => "LTC",
        "autolykos" | "autolykos2" => "ERG",
        "kheavyhash" => "KAS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coin(s: &str) -> Option<(&'static str, bool)> {
        identify(s).map(|w| (w.coin, w.checksum))
    }

    #[test]
    fn bitcoin_family() {
        // Genesis coinbase address; BIP-13 P2SH example; BIP-173/350 segwit v0 and v1.
        assert_eq!(coin("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"), Some(("BTC", true)));
        assert_eq!(coin("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"), Some(("BTC", true)));
        assert_eq!(coin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), Some(("BTC", true)));
        assert_eq!(coin("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"), Some(("BTC", true)));
        assert_eq!(
            coin("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
            Some(("BTC", true))
        );
        // One character changed: the checksum fails.
        assert_eq!(coin("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"), None);
        assert_eq!(coin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"), None);
        // A v0 program with a bech32m checksum is invalid (BIP-350).
        assert_eq!(coin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"), None);
        assert_eq!(coin("LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9"), Some(("LTC", true)));
        // Built here from a hash and each coin's version byte(s), so the vectors are certain.
        let b58 = |version: &[u8]| {
            let mut v = version.to_vec();
            v.extend_from_slice(&[0x5a; 20]);
            bs58::encode(v).with_check().into_string()
        };
        for (version, want) in [
            (&[0x30][..], "LTC"),
            (&[0x32][..], "LTC"),
            (&[0x1e][..], "DOGE"),
            (&[0x3c][..], "RVN"),
            (&[0x4c][..], "DASH"),
            (&[0x1c, 0xb8][..], "ZEC"),
            (&[0x1c, 0xbd][..], "ZEC"),
        ] {
            let a = b58(version);
            assert_eq!(coin(&a), Some((want, true)), "{a}");
        }
        assert_eq!(coin(&b58(&[0x99])), None, "unknown version byte");
        let ltc = bech32::segwit::encode_v0(bech32::Hrp::parse("ltc").unwrap(), &[0x5a; 20]).unwrap();
        assert_eq!(coin(&ltc), Some(("LTC", true)));
        assert_eq!(coin("t1fAhZF5aUJdY7CikGULHmeYk7id8qmvbAd"), Some(("ZEC", true)));
        assert_eq!(coin("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"), Some(("BCH", true)));
        assert_eq!(coin("qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"), Some(("BCH", true)));
        assert_eq!(coin("qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b"), None);
    }

    #[test]
    fn ethereum_with_and_without_eip55() {
        // EIP-55's own examples.
        assert_eq!(coin("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), Some(("ETH", true)));
        assert_eq!(coin("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"), Some(("ETH", true)));
        assert_eq!(coin("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), Some(("ETH", false)));
        assert_eq!(coin("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), None);
        assert_eq!(coin("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea"), None);
        assert_eq!(coin("0xc1c427cD8E6B7Ee3b5F30c2e1D3f3c5536EC16f5").map(|c| c.0), Some("ETH"));
    }

    #[test]
    fn monero_addresses_with_keccak_checksum() {
        // The Monero project's donation address (primary) and an integrated address built on it.
        let primary =
            "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
        assert_eq!(coin(primary), Some(("XMR", true)));
        let mut bad = primary.to_string();
        bad.replace_range(94..95, "B");
        assert_eq!(coin(&bad), None);
        assert_eq!(coin(&"4".repeat(95)), None);
        // Subaddress (network byte 42) and integrated (19, with an 8-byte payment id), built
        // with Monero's block base58 so the checksum is right.
        for (net, extra, first) in [(42u8, 0usize, '8'), (19, 8, '4'), (18, 0, '4')] {
            let mut body = vec![net];
            body.extend(std::iter::repeat(0x77).take(64 + extra));
            let check = Keccak256::digest(&body);
            body.extend_from_slice(&check[..4]);
            let a = monero_encode(&body);
            assert!(a.starts_with(first), "{a}");
            assert_eq!(coin(&a), Some(("XMR", true)), "{a}");
        }
        assert_eq!(coin(&"8".repeat(95)), None);
    }

    fn monero_encode(data: &[u8]) -> String {
        let mut out = String::new();
        for block in data.chunks(8) {
            let mut n: u128 = 0;
            for b in block {
                n = n * 256 + u128::from(*b);
            }
            let mut chars = vec![b'1'; BLOCK_CHARS[block.len()]];
            for c in chars.iter_mut().rev() {
                *c = BASE58[(n % 58) as usize];
                n /= 58;
            }
            out.push_str(std::str::from_utf8(&chars).unwrap());
        }
        out
    }

    #[test]
    fn junk_is_nothing_and_never_panics() {
        for s in ["", "x", "slush.worker1", "0x", "bc1", "4", &"\u{e9}".repeat(60), &"1".repeat(34)] {
            assert_eq!(identify(s), None, "{s}");
        }
        assert_eq!(coin_from_algo("rx/0,cn/2"), Some("XMR"));
        assert_eq!(coin_from_algo("KawPow"), Some("RVN"));
        assert_eq!(coin_from_algo("nope"), None);
    }
}
