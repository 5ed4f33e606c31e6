// SPDX-License-Identifier: MIT OR Apache-2.0
//! Prints, as hex, the request `linux_nfqueue::wire` encodes for a command line.
//!
//! ```text
//! nfq-capture-encoder verdict SEQ FLAGS QUEUE ID VERDICT_RAW [mark=N] [prio=N] [payload=HEX]
//!                             [ctmark=VALUE:MASK] [labels=HEXVALUE:HEXMASK]
//! nfq-capture-encoder batch   SEQ FLAGS QUEUE MAX_ID VERDICT_RAW [mark=N] [prio=N]
//! nfq-capture-encoder config  SEQ FLAGS QUEUE [cmd=N] [params=MODE:RANGE] [maxlen=N]
//!                             [flags=VALUE:MASK]
//! ```
//!
//! Numbers are decimal or 0x-hex. Used by `capture.py` so that the requests it sends to the
//! kernel are the Rust encoder's own bytes.

use std::process::ExitCode;

use linux_nfqueue::wire::{
    ConfigCmd, ConfigFlags, ConfigRequest, CopyMode, CtUpdate, Verdict, VerdictAttrs,
    encode_batch_verdict, encode_config, encode_verdict, verdict_len,
};

fn num(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

fn n<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    T::try_from(num(s)?).map_err(|_| format!("{s}: out of range"))
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("odd hex".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn pair(s: &str) -> Result<(&str, &str), String> {
    s.split_once(':')
        .ok_or_else(|| format!("{s}: expected A:B"))
}

fn run(args: &[String]) -> Result<Vec<u8>, String> {
    let pos: Vec<&str> = args
        .iter()
        .filter(|a| !a.contains('='))
        .map(String::as_str)
        .collect();
    let opt = |k: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{k}=")).map(str::to_owned))
    };
    let get = |i: usize| {
        pos.get(i)
            .copied()
            .ok_or_else(|| "missing argument".to_owned())
    };
    let (seq, flags, queue) = (n::<u32>(get(1)?)?, n::<u16>(get(2)?)?, n::<u16>(get(3)?)?);
    let mut out = vec![0u8; 70_000];
    let len = match get(0)? {
        "verdict" | "batch" => {
            let id = n::<u32>(get(4)?)?;
            let raw = n::<u32>(get(5)?)?;
            let v = Verdict::from_raw(raw).ok_or("verdict not expressible")?;
            if raw != v.to_raw() {
                return Err("verdict has extra bits".into());
            }
            let mark = opt("mark").map(|s| n::<u32>(&s)).transpose()?;
            let prio = opt("prio").map(|s| n::<u32>(&s)).transpose()?;
            if get(0)? == "batch" {
                encode_batch_verdict(&mut out, seq, flags, queue, id, v, mark, prio)
                    .map_err(|e| e.to_string())?
            } else {
                let payload = opt("payload").map(|s| hex(&s)).transpose()?;
                let mut ct: Option<CtUpdate> = None;
                if let Some(s) = opt("ctmark") {
                    let (a, b) = pair(&s)?;
                    ct = Some(ct.unwrap_or_default().with_mark(n(a)?, n(b)?));
                }
                if let Some(s) = opt("labels") {
                    let (a, b) = pair(&s)?;
                    let a: [u8; 16] = hex(a)?.try_into().map_err(|_| "labels: 16 bytes")?;
                    let b: [u8; 16] = hex(b)?.try_into().map_err(|_| "labels: 16 bytes")?;
                    ct = Some(ct.unwrap_or(CtUpdate::new()).with_labels(a, b));
                }
                let mut attrs = VerdictAttrs::new();
                attrs.mark = mark;
                attrs.priority = prio;
                attrs.payload = payload.as_deref();
                attrs.conntrack = ct;
                let n = encode_verdict(&mut out, seq, flags, queue, id, v, &attrs)
                    .map_err(|e| e.to_string())?;
                assert_eq!(n, verdict_len(&attrs));
                n
            }
        }
        "config" => {
            let mut req = ConfigRequest::new();
            if let Some(s) = opt("cmd") {
                req = req.with_cmd(ConfigCmd::from(n::<u8>(&s)?));
            }
            if let Some(s) = opt("params") {
                let (m, r) = pair(&s)?;
                req = req.with_params(CopyMode::from(n::<u8>(m)?), n(r)?);
            }
            if let Some(s) = opt("maxlen") {
                req = req.with_queue_maxlen(n(&s)?);
            }
            if let Some(s) = opt("flags") {
                let (v, m) = pair(&s)?;
                req = req.with_flags(
                    ConfigFlags::from_bits_retain(n(v)?),
                    ConfigFlags::from_bits_retain(n(m)?),
                );
            }
            encode_config(&mut out, seq, flags, queue, &req).map_err(|e| e.to_string())?
        }
        other => return Err(format!("unknown message kind {other}")),
    };
    out.truncate(len);
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(b) => {
            let s: String = b.iter().map(|x| format!("{x:02x}")).collect();
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nfq-capture-encoder: {e}");
            ExitCode::FAILURE
        }
    }
}
