//! A real Stratum V2 pool and miner built on the reference implementation's crates (SRI:
//! `noise_sv2` 2.0.0 for the Noise NX handshake, `codec_sv2` 7.0.0 for framing and transport
//! encryption, `common_messages_sv2` / `mining_sv2` / `binary_sv2` for the messages), over TCP,
//! encrypted or in plain framing. Used by `tests/sv2_reference.rs` (both roles over loopback,
//! the bytes recorded and written as a capture) and by minewatch's live test (each role in its
//! own network namespace):
//!
//! ```text
//! sv2pair pool  ADDR:PORT [--plain]
//! sv2pair miner ADDR:PORT [--plain] [--shares N] [--interval-ms MS] [--user ID]
//! ```
//!
//! The session: SetupConnection (mining protocol, a device's vendor, hardware, firmware and id)
//! and its Success; OpenStandardMiningChannel (user identity, nominal hash rate) and its
//! Success (a target); NewMiningJob and SetNewPrevHash; then shares (SubmitSharesStandard),
//! each answered with SubmitShares.Success, a new job every second share. The pool serves one
//! connection at a time until killed; the miner exits after its shares.

#![allow(dead_code)] // The test includes this file for its functions, not its `main`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binary_sv2::{GetSize, Serialize, Str0255, U256};
use codec_sv2::{
    Decoded, Decoder, Decrypted, Encoder, Handshake, MessageFrame, NoiseDecoder, NoiseEncoder,
    TransportDecryptState, TransportEncryptState,
};
use common_messages_sv2::{Protocol, SetupConnection, SetupConnectionSuccess};
use mining_sv2::{
    NewMiningJob, OpenStandardMiningChannel, OpenStandardMiningChannelSuccess, SetNewPrevHash,
    SubmitSharesStandard, SubmitSharesSuccess,
};
use noise_sv2::{Initiator, Responder, ELLSWIFT_ENCODING_SIZE, INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE};

pub const MSG_SETUP_CONNECTION: u8 = 0x00;
pub const MSG_SETUP_CONNECTION_SUCCESS: u8 = 0x01;
pub const MSG_OPEN_STANDARD: u8 = 0x10;
pub const MSG_OPEN_STANDARD_SUCCESS: u8 = 0x11;
pub const MSG_NEW_MINING_JOB: u8 = 0x15;
pub const MSG_SUBMIT_STANDARD: u8 = 0x1a;
pub const MSG_SUBMIT_SUCCESS: u8 = 0x1c;
pub const MSG_SET_NEW_PREV_HASH: u8 = 0x20;

/// What the miner announces.
pub const VENDOR: &str = "SRI";
pub const HARDWARE: &str = "sv2pair-cpu";
pub const FIRMWARE: &str = "codec_sv2-7.0.0";
pub const DEVICE_ID: &str = "rack1-dev42";
pub const USER: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.sri01";
/// The channel's nominal hash rate, H/s.
pub const NOMINAL_HASH_RATE: f32 = 1.0e12;

/// One message as written: (from the miner, when, bytes).
pub type Written = (bool, Instant, Vec<u8>);
/// Every message either side wrote, in the order written.
pub type Log = Arc<Mutex<Vec<Written>>>;

fn bad(what: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("{what:?}"))
}

/// One side of a connection: plain framing or Noise transport.
pub struct Conn {
    stream: TcpStream,
    miner: bool,
    log: Option<Log>,
    crypt: Option<(NoiseEncoder, TransportEncryptState, NoiseDecoder, Option<TransportDecryptState>)>,
    plain: (Encoder, Decoder),
}

impl Conn {
    fn new(stream: TcpStream, miner: bool, log: Option<Log>) -> Conn {
        Conn { stream, miner, log, crypt: None, plain: (Encoder::new(), Decoder::new()) }
    }

    /// Writes `bytes` as one message, logged first (so a reply is never logged before it).
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(log) = &self.log {
            log.lock().map_err(bad)?.push((self.miner, Instant::now(), bytes.to_vec()));
        }
        self.stream.write_all(bytes)
    }

    /// The miner's side of the Noise NX handshake.
    fn initiate(&mut self) -> io::Result<()> {
        let initiator = Initiator::without_pk().map_err(bad)?;
        let (first, sent) = Handshake::initiator(initiator).step_0().map_err(bad)?;
        self.put(first.payload())?;
        let mut reply = [0u8; INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE];
        self.stream.read_exact(&mut reply)?;
        let (enc, dec) = sent.step_2(reply).map_err(bad)?.split();
        self.crypt = Some((NoiseEncoder::new(), enc, NoiseDecoder::new(), Some(dec)));
        Ok(())
    }

    /// The pool's side.
    fn respond(&mut self) -> io::Result<()> {
        let secp = secp256k1::Secp256k1::new();
        let authority = secp256k1::Keypair::from_seckey_slice(&secp, &[0x42; 32]).map_err(bad)?;
        let responder = Responder::new(authority, 3600);
        let mut key = [0u8; ELLSWIFT_ENCODING_SIZE];
        self.stream.read_exact(&mut key)?;
        let (reply, transport) = Handshake::responder(responder).step_1(key).map_err(bad)?;
        self.put(reply.payload())?;
        let (enc, dec) = transport.split();
        self.crypt = Some((NoiseEncoder::new(), enc, NoiseDecoder::new(), Some(dec)));
        Ok(())
    }

    /// Sends one message as a frame (a channel message with the extension type's top bit).
    pub fn send<T: Serialize + GetSize>(
        &mut self,
        msg: T,
        msg_type: u8,
        channel_msg: bool,
    ) -> io::Result<()> {
        let frame = MessageFrame::from_message(msg, msg_type, 0, channel_msg).map_err(bad)?;
        let bytes: Vec<u8> = match &mut self.crypt {
            Some((enc, state, _, _)) => enc.encode_transport(frame, state).map_err(bad)?,
            None => self.plain.0.encode(frame).map_err(bad)?,
        };
        self.put(&bytes)
    }

    /// The next frame: its message type and payload.
    pub fn recv(&mut self) -> io::Result<(u8, Vec<u8>)> {
        loop {
            match &mut self.crypt {
                Some((_, _, dec, state)) => {
                    self.stream.read_exact(dec.writable())?;
                    let s = state.take().ok_or_else(|| bad("no decrypt state"))?;
                    match dec.next_transport_frame(s).map_err(bad)? {
                        Decrypted::Frame(mut f, s) => {
                            *state = Some(s);
                            return Ok((f.header().msg_type(), f.payload().to_vec()));
                        }
                        Decrypted::Incomplete(_, s) => *state = Some(s),
                    }
                }
                None => {
                    let dec = &mut self.plain.1;
                    self.stream.read_exact(dec.writable())?;
                    if let Decoded::Frame(mut f) = dec.next_frame().map_err(bad)? {
                        return Ok((f.header().msg_type(), f.payload().to_vec()));
                    }
                }
            }
        }
    }

    /// The payload of the next frame, which must be of `msg_type`.
    fn expect(&mut self, msg_type: u8) -> io::Result<Vec<u8>> {
        let (t, payload) = self.recv()?;
        if t != msg_type {
            return Err(bad(format!("expected message {msg_type:#x}, got {t:#x}")));
        }
        Ok(payload)
    }
}

fn str0255(s: &str) -> io::Result<Str0255<'_>> {
    s.try_into().map_err(bad)
}

/// A target of 2^232 - 1, little-endian: 2^24 hashes a share (difficulty 1/256 on the V1 scale).
pub fn share_target() -> [u8; 32] {
    let mut t = [0xffu8; 32];
    t[29..].fill(0);
    t
}

fn new_job(conn: &mut Conn, job_id: u32) -> io::Result<()> {
    let root = [job_id as u8; 32];
    let job = NewMiningJob {
        channel_id: 1,
        job_id,
        min_ntime: binary_sv2::Sv2Option::new(None),
        version: 0x2000_0000,
        merkle_root: U256::from(&root),
    };
    conn.send(job, MSG_NEW_MINING_JOB, true)
}

/// Serves one miner: the handshake when encrypted, then the session until the miner leaves.
pub fn serve(stream: TcpStream, encrypted: bool, log: Option<Log>) -> io::Result<()> {
    let mut conn = Conn::new(stream, false, log);
    if encrypted {
        conn.respond()?;
    }
    let mut p = conn.expect(MSG_SETUP_CONNECTION)?;
    let version = binary_sv2::from_bytes::<SetupConnection<'_>>(&mut p).map_err(bad)?.max_version;
    conn.send(
        SetupConnectionSuccess { used_version: version, flags: 0 },
        MSG_SETUP_CONNECTION_SUCCESS,
        false,
    )?;
    let mut p = conn.expect(MSG_OPEN_STANDARD)?;
    let request_id = binary_sv2::from_bytes::<OpenStandardMiningChannel<'_>>(&mut p).map_err(bad)?.request_id;
    let target = share_target();
    let prefix = [0u8, 0, 0, 0, 0, 0, 0, 1];
    let ok = OpenStandardMiningChannelSuccess {
        request_id,
        channel_id: 1,
        target: U256::from(&target),
        extranonce_prefix: binary_sv2::B032::new(&prefix[..]).map_err(bad)?,
        group_channel_id: 0,
    };
    conn.send(ok, MSG_OPEN_STANDARD_SUCCESS, false)?;
    new_job(&mut conn, 1)?;
    let prev = [7u8; 32];
    let p = SetNewPrevHash {
        channel_id: 1,
        job_id: 1,
        prev_hash: U256::from(&prev),
        min_ntime: 1_700_000_000,
        nbits: 0x1d00ffff,
    };
    conn.send(p, MSG_SET_NEW_PREV_HASH, true)?;
    let mut shares = 0u32;
    let mut job = 1u32;
    loop {
        let seq = match conn.expect(MSG_SUBMIT_STANDARD) {
            Ok(mut p) => binary_sv2::from_bytes::<SubmitSharesStandard>(&mut p).map_err(bad)?.sequence_number,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        shares += 1;
        let ok = SubmitSharesSuccess {
            channel_id: 1,
            last_sequence_number: seq,
            new_submits_accepted_count: 1,
            new_shares_sum: 1,
        };
        conn.send(ok, MSG_SUBMIT_SUCCESS, true)?;
        if shares % 2 == 0 {
            job += 1;
            new_job(&mut conn, job)?;
        }
    }
}

/// What the miner saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MinerReport {
    pub jobs: u32,
    pub accepted: u32,
}

/// Mines on `stream`: `shares` shares, `interval` apart.
pub fn mine(
    stream: TcpStream,
    encrypted: bool,
    shares: u32,
    interval: Duration,
    user: &str,
    log: Option<Log>,
) -> io::Result<MinerReport> {
    let mut conn = Conn::new(stream, true, log);
    if encrypted {
        conn.initiate()?;
    }
    let peer = conn.stream.peer_addr()?;
    let host = peer.ip().to_string();
    let setup = SetupConnection {
        protocol: Protocol::MiningProtocol,
        min_version: 2,
        max_version: 2,
        flags: 0,
        endpoint_host: str0255(&host)?,
        endpoint_port: peer.port(),
        vendor: str0255(VENDOR)?,
        hardware_version: str0255(HARDWARE)?,
        firmware: str0255(FIRMWARE)?,
        device_id: str0255(DEVICE_ID)?,
    };
    conn.send(setup, MSG_SETUP_CONNECTION, false)?;
    let mut p = conn.expect(MSG_SETUP_CONNECTION_SUCCESS)?;
    binary_sv2::from_bytes::<SetupConnectionSuccess>(&mut p).map_err(bad)?;
    let max = [0xffu8; 32];
    let open = OpenStandardMiningChannel {
        request_id: 7,
        user_identity: str0255(user)?,
        nominal_hash_rate: NOMINAL_HASH_RATE,
        max_target: U256::from(&max),
    };
    conn.send(open, MSG_OPEN_STANDARD, false)?;
    let mut p = conn.expect(MSG_OPEN_STANDARD_SUCCESS)?;
    binary_sv2::from_bytes::<OpenStandardMiningChannelSuccess<'_>>(&mut p).map_err(bad)?;
    let mut report = MinerReport::default();
    let mut job = 0u32;
    // The first job and its previous hash.
    while job == 0 {
        let (t, mut payload) = conn.recv()?;
        if t == MSG_NEW_MINING_JOB {
            job = binary_sv2::from_bytes::<NewMiningJob<'_>>(&mut payload).map_err(bad)?.job_id;
            report.jobs += 1;
        }
    }
    let mut p = conn.expect(MSG_SET_NEW_PREV_HASH)?;
    binary_sv2::from_bytes::<SetNewPrevHash<'_>>(&mut p).map_err(bad)?;
    for seq in 0..shares {
        std::thread::sleep(interval);
        let share = SubmitSharesStandard {
            channel_id: 1,
            sequence_number: seq,
            job_id: job,
            nonce: seq.wrapping_mul(2_654_435_761),
            ntime: 1_700_000_000 + seq,
            version: 0x2000_0000,
        };
        conn.send(share, MSG_SUBMIT_STANDARD, true)?;
        loop {
            let (t, mut payload) = conn.recv()?;
            match t {
                MSG_SUBMIT_SUCCESS => {
                    let ok: SubmitSharesSuccess = binary_sv2::from_bytes(&mut payload).map_err(bad)?;
                    report.accepted += ok.new_submits_accepted_count;
                    break;
                }
                MSG_NEW_MINING_JOB => {
                    job = binary_sv2::from_bytes::<NewMiningJob<'_>>(&mut payload).map_err(bad)?.job_id;
                    report.jobs += 1;
                }
                other => return Err(bad(format!("unexpected message {other:#x}"))),
            }
        }
    }
    // A job the pool pushed after the last share's answer is read, so the miner's close comes
    // after every byte the pool sent.
    conn.stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    while let Ok((MSG_NEW_MINING_JOB, _)) = conn.recv() {
        report.jobs += 1;
    }
    conn.stream.shutdown(std::net::Shutdown::Both)?;
    Ok(report)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("sv2pair: {e}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> io::Result<()> {
    let (role, addr) =
        match args {
            [role, addr, ..] => (role.as_str(), addr.as_str()),
            _ => return Err(bad(
                "usage: sv2pair pool|miner ADDR:PORT [--plain] [--shares N] [--interval-ms MS] [--user ID]",
            )),
        };
    let mut encrypted = true;
    let (mut shares, mut interval_ms, mut user) = (4u32, 500u64, USER.to_string());
    let mut rest = args.iter().skip(2);
    while let Some(a) = rest.next() {
        let mut val = || rest.next().cloned().ok_or_else(|| bad(format!("{a} needs a value")));
        match a.as_str() {
            "--plain" => encrypted = false,
            "--shares" => shares = val()?.parse().map_err(bad)?,
            "--interval-ms" => interval_ms = val()?.parse().map_err(bad)?,
            "--user" => user = val()?,
            other => return Err(bad(format!("unknown option {other}"))),
        }
    }
    match role {
        "pool" => {
            let listener = TcpListener::bind(addr)?;
            println!("listening {}", listener.local_addr()?);
            io::stdout().flush()?;
            for stream in listener.incoming() {
                if let Err(e) = serve(stream?, encrypted, None) {
                    eprintln!("sv2pair pool: {e}");
                }
            }
            Ok(())
        }
        "miner" => {
            let stream = TcpStream::connect(addr)?;
            let r = mine(stream, encrypted, shares, Duration::from_millis(interval_ms), &user, None)?;
            println!("jobs {} accepted {}", r.jobs, r.accepted);
            Ok(())
        }
        other => Err(bad(format!("unknown role {other}"))),
    }
}
