// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--pcap FILE`: a classic pcap writer (link type RAW = 101, microsecond timestamps, snaplen
//! 65535) readable by tcpdump, Wireshark and every pcap library.
//!
//! Link type RAW means each record starts with the IP header, which is what the IPv4 and IPv6
//! families deliver. A truncated copy keeps its original length in the record's `orig_len`, so
//! readers show it as truncated.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The snapshot length written in the file header: every payload fits (the kernel copies at most
/// 65531 bytes).
pub(crate) const SNAPLEN: u32 = 65535;
/// `LINKTYPE_RAW`: records start with an IPv4 or IPv6 header.
pub(crate) const LINKTYPE_RAW: u32 = 101;
/// The magic number of a microsecond-resolution classic pcap file, written in host byte order
/// so that readers learn the byte order from it.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;

/// Writes packets to a classic pcap stream.
///
/// Written by hand rather than through `pcap-file`'s writer, which cannot flush without giving
/// up its inner writer; the format is 24 bytes of file header and 16 bytes per record. The
/// tests read the files back with `pcap-file`'s reader and with tcpdump.
#[derive(Debug)]
pub(crate) struct PcapSink<W: Write> {
    writer: W,
    /// Record header and payload are assembled here and written with one call.
    record: Vec<u8>,
}

impl PcapSink<BufWriter<File>> {
    /// Creates (or truncates) `path` and writes the file header.
    ///
    /// # Errors
    ///
    /// The error of creating or writing the file.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        Self::new(BufWriter::with_capacity(256 * 1024, file))
    }
}

impl<W: Write> PcapSink<W> {
    /// Writes the file header (version 2.4, microseconds, snaplen 65535, link type RAW).
    ///
    /// # Errors
    ///
    /// The error of `writer`.
    pub(crate) fn new(mut writer: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&MAGIC_MICROS.to_ne_bytes());
        header[4..6].copy_from_slice(&2u16.to_ne_bytes());
        header[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // 8..16: time zone correction and timestamp accuracy, both 0.
        header[16..20].copy_from_slice(&SNAPLEN.to_ne_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_RAW.to_ne_bytes());
        writer.write_all(&header)?;
        Ok(Self {
            writer,
            record: Vec::with_capacity(16 + SNAPLEN as usize),
        })
    }

    /// Appends one packet.
    ///
    /// `when` is the packet's timestamp (the kernel's `NFQA_TIMESTAMP`, or the time of receipt);
    /// `cap_len` is the original length when the kernel truncated the copy, and becomes the
    /// record's `orig_len`. Bytes past the snapshot length are cut off. Times before 1970 are
    /// written as 0, times after 2106 saturate.
    ///
    /// # Errors
    ///
    /// The error of the underlying writer.
    pub(crate) fn write_packet(
        &mut self,
        when: SystemTime,
        data: &[u8],
        cap_len: Option<u32>,
    ) -> io::Result<()> {
        let since_epoch = when
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let seconds = u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX);
        let micros = since_epoch.subsec_micros();
        let data = &data[..data.len().min(SNAPLEN as usize)];
        // At most SNAPLEN, so it fits.
        let captured = u32::try_from(data.len()).unwrap_or(SNAPLEN);
        let orig_len = cap_len.unwrap_or(captured).max(captured);
        self.record.clear();
        for field in [seconds, micros, captured, orig_len] {
            self.record.extend_from_slice(&field.to_ne_bytes());
        }
        self.record.extend_from_slice(data);
        self.writer.write_all(&self.record)
    }

    /// Flushes buffered records to the file.
    ///
    /// # Errors
    ///
    /// The error of the underlying writer.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;
    use pcap_file::{DataLink, TsResolution};

    /// Flushes the sink and hands back what it wrote.
    fn finish<W: Write>(mut sink: PcapSink<W>) -> W {
        sink.flush().unwrap();
        sink.writer
    }

    fn udp_packet(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(40000, 9999)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn tcp6_packet() -> Vec<u8> {
        let mut out = Vec::new();
        let a = std::net::Ipv6Addr::LOCALHOST.octets();
        etherparse::PacketBuilder::ipv6(a, a, 64)
            .tcp(51000, 8888, 1, 100)
            .syn()
            .write(&mut out, &[])
            .unwrap();
        out
    }

    fn two_packets() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let first = udp_packet(b"hello nfqueue");
        let second = tcp6_packet();
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        let t1 = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        sink.write_packet(t1, &first, None).unwrap();
        // A truncated copy: 40 of 1500 bytes.
        let t2 = t1 + Duration::from_millis(5);
        sink.write_packet(t2, &second[..40], Some(1500)).unwrap();
        (finish(sink), first, second)
    }

    #[test]
    fn writes_and_reads_back() {
        let (file, first, second) = two_packets();
        let mut reader = PcapReader::new(&file[..]).unwrap();
        let header = reader.header();
        assert_eq!(header.datalink, DataLink::RAW);
        assert_eq!(u32::from(header.datalink), 101);
        assert_eq!(header.snaplen, 65535);
        assert_eq!(header.ts_resolution, TsResolution::MicroSecond);
        assert_eq!((header.version_major, header.version_minor), (2, 4));

        let p1 = reader.next_packet().unwrap().unwrap();
        assert_eq!(p1.data.as_ref(), &first[..]);
        assert_eq!(p1.orig_len as usize, first.len());
        assert_eq!(p1.timestamp, Duration::from_micros(1_700_000_000_123_456));
        let p2 = reader.next_packet().unwrap().unwrap();
        assert_eq!(p2.data.as_ref(), &second[..40]);
        assert_eq!(p2.orig_len, 1500);
        assert_eq!(p2.timestamp, Duration::from_micros(1_700_000_000_128_456));
        assert!(reader.next_packet().is_none());
    }

    #[test]
    fn file_on_disk() {
        let path = std::env::temp_dir().join(format!("nfqueue-sink-{}.pcap", std::process::id()));
        let mut sink = PcapSink::create(&path).unwrap();
        let packet = udp_packet(b"on disk");
        sink.write_packet(SystemTime::now(), &packet, None).unwrap();
        sink.flush().unwrap();
        // Readable while the sink is still open.
        let file = std::fs::read(&path).unwrap();
        assert_eq!(file.len(), 24 + 16 + packet.len());
        sink.write_packet(SystemTime::now(), &packet, None).unwrap();
        drop(finish(sink));
        let file = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut reader = PcapReader::new(&file[..]).unwrap();
        assert_eq!(
            reader.next_packet().unwrap().unwrap().data.as_ref(),
            &packet[..]
        );
        assert_eq!(
            reader.next_packet().unwrap().unwrap().data.as_ref(),
            &packet[..]
        );
        assert!(reader.next_packet().is_none());
    }

    #[test]
    fn file_header_bytes() {
        let file = finish(PcapSink::new(Vec::new()).unwrap());
        assert_eq!(file.len(), 24);
        let ne = |b: &[u8]| u32::from_ne_bytes(b.try_into().unwrap());
        assert_eq!(ne(&file[0..4]), 0xa1b2_c3d4, "microsecond magic");
        assert_eq!(ne(&file[16..20]), 65535);
        assert_eq!(ne(&file[20..24]), 101);
    }

    #[test]
    fn oversized_data_is_cut_to_snaplen() {
        let mut sink = PcapSink::new(Vec::new()).unwrap();
        let big = vec![0x45; 70000];
        sink.write_packet(SystemTime::UNIX_EPOCH, &big, None)
            .unwrap();
        let file = finish(sink);
        let mut reader = PcapReader::new(&file[..]).unwrap();
        let p = reader.next_packet().unwrap().unwrap();
        assert_eq!(p.data.len(), 65535);
        assert_eq!(p.orig_len, 65535);
    }

    #[test]
    fn tcpdump_reads_it() {
        let tcpdump = [
            "/usr/bin/tcpdump",
            "/usr/sbin/tcpdump",
            "/bin/tcpdump",
            "/sbin/tcpdump",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists());
        let Some(tcpdump) = tcpdump else {
            eprintln!("skipped: tcpdump is not installed");
            return;
        };
        let (file, _, _) = two_packets();
        let path = std::env::temp_dir().join(format!("nfqueue-pcap-{}.pcap", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let output = std::process::Command::new(tcpdump)
            .args(["-r"])
            .arg(&path)
            .args(["-nn", "-tt"])
            .output()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("link-type RAW"), "{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert!(
            lines[0].starts_with("1700000000.123456 IP 127.0.0.1.40000 > 127.0.0.1.9999: UDP"),
            "{stdout}"
        );
        // Cut after the IPv6 header: tcpdump shows the addresses and marks the TCP part missing.
        assert!(lines[1].contains("IP6 ::1 > ::1: [|tcp]"), "{stdout}");
    }
}
