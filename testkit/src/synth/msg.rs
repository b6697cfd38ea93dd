//! Message text for the scenarios, copied in shape (key order, spacing, id habits, field sizes)
//! from real clients and pools: cpuminer 2.5.1 for Stratum V1, XMRig 6.x for the cryptonote
//! dialect, ethminer/Claymore-style eth-proxy. A recogniser tuned on our own neat JSON would
//! learn nothing; these keep the quirks that real traffic has (cpuminer's `"id":4` on every
//! submit after the params, ethminer's `"worker"` key first and Python-style `": "` spacing).
//!
//! All hex is drawn from a seeded generator, so the text is fixed for a given seed.

/// A small seeded generator (SplitMix64): deterministic, and good enough to make hex fields
/// look varied. Not for anything that needs real randomness.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi`; `lo` itself when the range is empty or inverted.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match hi.checked_sub(lo).and_then(|span| span.checked_add(1)) {
            Some(n) => lo + self.next_u64() % n,
            None if hi > lo => self.next_u64(), // the full u64 range
            None => lo,
        }
    }

    /// `n` random bytes as lowercase hex.
    pub fn hex(&mut self, n: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(n * 2);
        for _ in 0..n {
            let b = (self.next_u64() & 0xff) as usize;
            s.push(DIGITS[b >> 4] as char);
            s.push(DIGITS[b & 15] as char);
        }
        s
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = (self.next_u64() >> 24) as u8;
        }
    }
}

/// The `"method"` key and a method name, either plain or with JSON `\u` escapes (which a
/// byte-pattern matcher misses and a JSON parser must undo).
fn method(name: &str, escaped: bool) -> String {
    if escaped {
        format!("\"\\u006dethod\": \"{}\"", name.replace('.', "\\u002e"))
    } else {
        format!("\"method\": \"{name}\"")
    }
}

// ---- Stratum V1 (cpuminer against a Bitcoin pool) -------------------------------------------

pub fn sv1_subscribe(id: u32, agent: &str, esc: bool) -> String {
    format!("{{\"id\": {id}, {}, \"params\": [\"{agent}\"]}}", method("mining.subscribe", esc))
}

pub fn sv1_subscribe_result(id: u32, extranonce1: &str) -> String {
    format!(
        "{{\"id\":{id},\"result\":[[[\"mining.set_difficulty\",\"d1\"],[\"mining.notify\",\"n1\"]],\"{extranonce1}\",4],\"error\":null}}"
    )
}

/// `login` is the JSON string body as it goes on the wire (escapes allowed).
pub fn sv1_authorize(id: u32, login: &str, esc: bool) -> String {
    format!("{{\"id\": {id}, {}, \"params\": [\"{login}\", \"x\"]}}", method("mining.authorize", esc))
}

pub fn sv1_result_true(id: u32) -> String {
    format!("{{\"id\":{id},\"result\":true,\"error\":null}}")
}

pub fn sv1_set_difficulty(diff: &str, esc: bool) -> String {
    format!("{{\"id\":null,{},\"params\":[{diff}]}}", method("mining.set_difficulty", esc).replace(": ", ":"))
}

/// A job: job id, previous block hash, coinbase halves, merkle branch, version, nbits, ntime,
/// clean flag. Returns the message and the ntime (which submits echo).
pub fn sv1_notify(rng: &mut Rng, job: &str, height: u32, clean: bool, esc: bool) -> (String, String) {
    let prev = rng.hex(32);
    let h = height.to_le_bytes();
    let coinb1 = format!(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1703{:02x}{:02x}{:02x}0c",
        h[0], h[1], h[2]
    );
    let coinb2 =
        format!("0b2f73796e7468706f6f6c2fffffffff01205fa012000000001976a914{}88ac00000000", rng.hex(20));
    let branches: Vec<String> = (0..3).map(|_| format!("\"{}\"", rng.hex(32))).collect();
    let ntime = format!("{:08x}", 0x6630_2f00u32 + height % 1000 * 600);
    let msg = format!(
        "{{\"id\":null,{},\"params\":[\"{job}\",\"{prev}\",\"{coinb1}\",\"{coinb2}\",[{}],\"20000000\",\"1703a30c\",\"{ntime}\",{clean}]}}",
        method("mining.notify", esc).replace(": ", ":"),
        branches.join(",")
    );
    (msg, ntime)
}

/// cpuminer's submit: params first, and the same id (4) on every submit.
pub fn sv1_submit(login: &str, job: &str, ntime: &str, nonce: &str, esc: bool) -> String {
    format!(
        "{{{}, \"params\": [\"{login}\", \"{job}\", \"00000000\", \"{ntime}\", \"{nonce}\"], \"id\":4}}",
        method("mining.submit", esc)
    )
}

// ---- cryptonote (XMRig against a Monero pool) -----------------------------------------------

pub const XMRIG_AGENT: &str = "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0";
const XMRIG_ALGOS: &str = "[\"rx/0\",\"cn/2\",\"cn/r\",\"cn/fast\",\"cn/half\",\"cn/xao\",\"cn/rto\",\"cn/rwz\",\"cn/zls\",\"cn/double\",\"cn/ccx\",\"cn-lite/1\",\"cn-pico\",\"cn-pico/tlo\",\"cn/upx2\",\"cn/1\",\"rx/2\",\"rx/wow\",\"rx/arq\",\"rx/graft\",\"rx/sfx\",\"rx/yada\",\"argon2/chukwa\",\"argon2/chukwav2\",\"argon2/ninja\",\"ghostrider\"]";

/// `login` and `pass` are JSON string bodies as they go on the wire (escapes allowed).
pub fn xmr_login(id: u32, login: &str, pass: &str, rigid: &str) -> String {
    format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{{\"login\":\"{login}\",\"pass\":\"{pass}\",\"agent\":\"{XMRIG_AGENT}\",\"rigid\":\"{rigid}\",\"algo\":{XMRIG_ALGOS}}}}}"
    )
}

/// The job object pools hand out, inside a login result or a `job` push.
pub fn xmr_job_body(rng: &mut Rng, session: &str, job_id: u32, height: u32, seed: &str) -> String {
    format!(
        "{{\"blob\":\"1010{}\",\"job_id\":\"{job_id}\",\"target\":\"dd240601\",\"algo\":\"rx/0\",\"height\":{height},\"id\":\"{session}\",\"seed_hash\":\"{seed}\"}}",
        rng.hex(74)
    )
}

pub fn xmr_login_result(id: u32, session: &str, job: &str) -> String {
    format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{{\"id\":\"{session}\",\"job\":{job},\"extensions\":[\"algo\",\"nicehash\",\"connect\",\"tls\",\"keepalive\"],\"status\":\"OK\"}}}}"
    )
}

pub fn xmr_job(job: &str) -> String {
    format!("{{\"jsonrpc\":\"2.0\",\"method\":\"job\",\"params\":{job}}}")
}

pub fn xmr_submit(rng: &mut Rng, id: u32, session: &str, job_id: u32) -> String {
    format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{{\"id\":\"{session}\",\"job_id\":\"{job_id}\",\"nonce\":\"{}000000\",\"result\":\"{}00\",\"algo\":\"rx/0\"}}}}",
        rng.hex(1),
        rng.hex(31)
    )
}

pub fn xmr_status(id: u32, status: &str) -> String {
    format!("{{\"id\":{id},\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{{\"status\":\"{status}\"}}}}")
}

pub fn xmr_keepalived(id: u32, session: &str) -> String {
    format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"keepalived\",\"params\":{{\"id\":\"{session}\"}}}}"
    )
}

// ---- eth-proxy (ethminer against an Ethash pool) --------------------------------------------

pub fn eth_submit_login(id: u32, login: &str) -> String {
    format!(
        "{{\"worker\": \"eth1.0\", \"jsonrpc\": \"2.0\", \"params\": [\"{login}\", \"x\"], \"id\": {id}, \"method\": \"eth_submitLogin\"}}"
    )
}

pub fn eth_get_work(id: u32) -> String {
    format!("{{\"worker\": \"\", \"jsonrpc\": \"2.0\", \"params\": [], \"id\": {id}, \"method\": \"eth_getWork\"}}")
}

/// Work as the pool sends it: header hash, seed hash, boundary, block number. The pool pushes
/// new work unasked with id 0, the eth-proxy habit a recogniser must accept.
pub fn eth_work(rng: &mut Rng, id: u32, seed: &str, block: u32) -> (String, String) {
    let header = rng.hex(32);
    let msg = format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"result\":[\"0x{header}\",\"0x{seed}\",\"0x0112e0be826d694b2e62d01511f12a6061fbaec8bc02357593e70e52ba\",\"0x{block:x}\"]}}"
    );
    (msg, header)
}

pub fn eth_true(id: u32) -> String {
    format!("{{\"id\":{id},\"jsonrpc\":\"2.0\",\"result\":true}}")
}

pub fn eth_submit_work(rng: &mut Rng, id: u32, header: &str) -> String {
    format!(
        "{{\"id\":{id},\"method\":\"eth_submitWork\",\"params\":[\"0x{}\",\"0x{header}\",\"0x{}\"]}}",
        rng.hex(8),
        rng.hex(32)
    )
}

pub fn eth_submit_hashrate(id: u32, rate: u64, client_id: &str) -> String {
    format!(
        "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"eth_submitHashrate\",\"params\":[\"0x{rate:x}\", \"0x{client_id}\"]}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    #[test]
    fn every_message_is_valid_json_with_the_right_method() {
        let mut r = Rng::new(1);
        for esc in [false, true] {
            let v = json(&sv1_subscribe(1, "cpuminer/2.5.1", esc));
            assert_eq!(v["method"], "mining.subscribe");
            let v = json(&sv1_authorize(2, "a\\u002eb", esc));
            assert_eq!(v["method"], "mining.authorize");
            assert_eq!(v["params"][0], "a.b");
            assert_eq!(json(&sv1_set_difficulty("0.005", esc))["method"], "mining.set_difficulty");
            let (n, ntime) = sv1_notify(&mut r, "1a2b0001", 850_000, true, esc);
            let v = json(&n);
            assert_eq!(v["method"], "mining.notify");
            assert_eq!(v["params"][7], ntime.as_str());
            let v = json(&sv1_submit("w", "1a2b0001", &ntime, "0badf00d", esc));
            assert_eq!(v["method"], "mining.submit");
        }
        json(&sv1_subscribe_result(1, "0199f51e"));
        json(&sv1_result_true(4));
        let seed = r.hex(32);
        let job = xmr_job_body(&mut r, "s", 7, 3_000_000, &seed);
        assert_eq!(json(&job)["blob"].as_str().unwrap().len(), 152);
        assert_eq!(json(&xmr_login(1, "4abc", "x", "rig"))["params"]["login"], "4abc");
        json(&xmr_login_result(1, "s", &job));
        assert_eq!(json(&xmr_job(&job))["method"], "job");
        assert_eq!(json(&xmr_submit(&mut r, 2, "s", 7))["method"], "submit");
        json(&xmr_status(2, "OK"));
        assert_eq!(json(&xmr_keepalived(3, "s"))["method"], "keepalived");
        assert_eq!(json(&eth_submit_login(2, "0xabc.rig"))["method"], "eth_submitLogin");
        assert_eq!(json(&eth_get_work(3))["method"], "eth_getWork");
        let (w, h) = eth_work(&mut r, 0, "00", 4_800_000);
        assert_eq!(json(&w)["result"][0], format!("0x{h}"));
        json(&eth_true(4));
        assert_eq!(json(&eth_submit_work(&mut r, 4, &h))["method"], "eth_submitWork");
        assert_eq!(json(&eth_submit_hashrate(6, 57_999_754, "ab"))["method"], "eth_submitHashrate");
    }

    #[test]
    fn rng_is_deterministic() {
        assert_eq!(Rng::new(7).hex(8), Rng::new(7).hex(8));
        assert_ne!(Rng::new(7).hex(8), Rng::new(8).hex(8));
        let mut r = Rng::new(1);
        assert_eq!(r.range(5, 3), 5);
        assert_eq!(r.range(9, 9), 9);
        r.range(0, u64::MAX);
        assert!((10..=20).contains(&r.range(10, 20)));
    }
}
