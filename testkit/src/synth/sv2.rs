//! Captures of the Stratum V2 reference implementation's crates, kept as they were made (not
//! synthesised): `testkit/captures/sv2-sri-*.pcap`, written by `tests/sv2_reference.rs` with
//! `SV2_CAPTURE_DIR` from a real pool and miner (`examples/sv2pair.rs`) over 127.0.0.1. The
//! generator copies them into `pcaps/` with their truth; the addresses and ports below are the
//! ones in the files.

use std::io::{self, Write};

use super::scenarios::{sa, Truth};
use minewatch::stratum::Variant;

const NOISE: &[u8] = include_bytes!("../../captures/sv2-sri-noise.pcap");
const PLAIN: &[u8] = include_bytes!("../../captures/sv2-sri-plain.pcap");

pub(super) fn sri_noise(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    out.write_all(NOISE)?;
    truth.mining_between(
        Variant::StratumV2,
        sa("127.0.0.1:57366")?,
        sa("127.0.0.1:38837")?,
        "",
        "REAL: SRI crates noise_sv2 2.0.0 / codec_sv2 7.0.0 (testkit sv2pair): Noise NX handshake 64/234, then encrypted SetupConnection, OpenStandardMiningChannel, jobs and 6 shares; confidence suspected, evidence in stratum.encrypted",
    );
    Ok(())
}

pub(super) fn sri_plain(out: &mut dyn Write, truth: &mut Truth) -> io::Result<()> {
    out.write_all(PLAIN)?;
    truth.mining_between(
        Variant::StratumV2,
        sa("127.0.0.1:42120")?,
        sa("127.0.0.1:36745")?,
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.sri01",
        "REAL: SRI crates codec_sv2 7.0.0 plain framing (testkit sv2pair): SetupConnection SRI/sv2pair-cpu/codec_sv2-7.0.0 device rack1-dev42, OpenStandardMiningChannel, 4 NewMiningJob, SetNewPrevHash, 6 SubmitSharesStandard all accepted",
    );
    Ok(())
}
