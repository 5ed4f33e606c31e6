// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-queue kernel counters from `/proc/net/netfilter/nfnetlink_queue`.
//!
//! The kernel keeps one line per bound queue in that file, separately for every network
//! namespace, printed with the format `"%5u %6u %5u %1u %5u %5u %5u %8u %2d\n"`:
//!
//! ```text
//!     5   6741     1 2 65531     2     0        1  1
//! queue portid  wait mode range qdrop udrop  last id (always 1)
//! ```
//!
//! [`QueueStats::parse_proc`] turns that text into values without touching the file system, so
//! it works on text copied from another machine too. [`QueueStats::read_all`] and the helpers
//! next to it read the file of the network namespace that the **calling thread** is in (through
//! `/proc/thread-self`), which is what a thread that entered another namespace with `setns`
//! expects.
//!
//! The file is only readable by root (mode 0440), and it does not show the queue length limit
//! or the configuration flags.
//!
//! # References
//!
//! * `net/netfilter/nfnetlink_queue.c`, `seq_show()`
//! * `protocol.md` §12 in the project notes

use std::fmt;
use std::io;
use std::path::Path;

/// The per-thread path of the table: follows the network namespace of the calling thread.
const THREAD_PROC_PATH: &str = "/proc/thread-self/net/netfilter/nfnetlink_queue";
/// The classic path (follows the namespace of the process's main thread); used on kernels
/// older than 3.17, which have no `/proc/thread-self`.
const PROC_PATH: &str = "/proc/net/netfilter/nfnetlink_queue";

/// Copy mode 0: the kernel sends nothing about the packet (`NFQNL_COPY_NONE`).
const COPY_NONE: u8 = 0;
/// Copy mode 1: metadata only (`NFQNL_COPY_META`).
const COPY_META: u8 = 1;
/// Copy mode 2: metadata and up to `copy_range` bytes of the packet (`NFQNL_COPY_PACKET`).
const COPY_PACKET: u8 = 2;

/// One line of `/proc/net/netfilter/nfnetlink_queue`: the kernel's counters for one bound queue.
///
/// All counters are the kernel's own 32-bit values and wrap around.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueStats {
    /// The queue number (`queue_num`).
    pub queue: u16,
    /// The netlink port id of the socket that owns the queue (`peer_portid`).
    ///
    /// Autobound sockets after the first one in a process get ids at or above 2^31, so this is a
    /// `u32`, as the kernel prints it.
    pub portid: u32,
    /// Packets waiting in the kernel for a verdict right now (`queue_total`).
    pub waiting: u32,
    /// The copy mode: 0 none, 1 metadata only, 2 packet (`copy_mode`). See
    /// [`copy_mode_name`](Self::copy_mode_name).
    pub copy_mode: u8,
    /// How many bytes of each packet are copied to user space (`copy_range`).
    ///
    /// The kernel caps it at 65531 and shows 0 in metadata mode.
    pub copy_range: u32,
    /// Packets dropped because the queue was full (`queue_dropped`). From Linux 7.0 this also
    /// counts failed insertions into the per-queue id table.
    pub queue_dropped: u32,
    /// Packets dropped because they could not be delivered to the socket, usually because its
    /// receive buffer was full (`queue_user_dropped`).
    pub user_dropped: u32,
    /// The id given to the most recent packet (`id_sequence`); 0 before the first packet.
    pub id_sequence: u32,
}

impl QueueStats {
    /// Parses the whole text of `/proc/net/netfilter/nfnetlink_queue`.
    ///
    /// Whitespace is treated leniently (any amount of spaces or tabs between columns, blank lines
    /// and a missing final newline are fine), numbers strictly: every column must be a plain
    /// decimal number that fits its field, or the whole text is rejected with the line and column
    /// that failed. A line needs at least the eight counters; the ninth column (a constant 1 on
    /// current kernels) is checked when present, and columns after it are ignored so that a
    /// future kernel that appends one does not break readers.
    ///
    /// # Errors
    ///
    /// [`StatsParseError`] for the first line that is not a valid queue line.
    ///
    /// # Example
    ///
    /// ```
    /// use linux_nfqueue::QueueStats;
    ///
    /// let text = "    5   6741     1 2 65531     2     0        1  1\n";
    /// let stats = QueueStats::parse_proc(text)?;
    /// assert_eq!(stats[0].queue, 5);
    /// assert_eq!(stats[0].waiting, 1);
    /// assert_eq!(stats[0].copy_mode_name(), "packet");
    /// # Ok::<(), linux_nfqueue::StatsParseError>(())
    /// ```
    pub fn parse_proc(text: &str) -> Result<Vec<Self>, StatsParseError> {
        let mut out = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(parse_line(line, index + 1)?);
        }
        Ok(out)
    }

    /// Reads the table of the network namespace the calling thread is in.
    ///
    /// Needs read access to the file, which the kernel gives to root only.
    ///
    /// # Errors
    ///
    /// * [`io::ErrorKind::NotFound`] when the file does not exist: the `nfnetlink_queue` kernel
    ///   module is not loaded (the message says so and how to load it).
    /// * [`io::ErrorKind::PermissionDenied`] when the caller is not allowed to read it.
    /// * [`io::ErrorKind::InvalidData`] wrapping a [`StatsParseError`] when the text is not in
    ///   the expected format.
    ///
    /// # References
    ///
    /// * `proc(5)`, `/proc/thread-self`
    pub fn read_all() -> io::Result<Vec<Self>> {
        match std::fs::read_to_string(THREAD_PROC_PATH) {
            Ok(text) => parse_io(&text, Path::new(THREAD_PROC_PATH)),
            // /proc/thread-self exists from Linux 3.17; before it, only the classic path.
            Err(err)
                if err.kind() == io::ErrorKind::NotFound
                    && !Path::new("/proc/thread-self").exists() =>
            {
                Self::read_path(PROC_PATH)
            }
            Err(err) => Err(explain(err, Path::new(THREAD_PROC_PATH))),
        }
    }

    /// Reads and parses a copy of the table from `path`, for example
    /// `/proc/<pid>/net/netfilter/nfnetlink_queue` to look at another process's namespace.
    ///
    /// # Errors
    ///
    /// As for [`read_all`](Self::read_all).
    pub fn read_path(path: impl AsRef<Path>) -> io::Result<Vec<Self>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|err| explain(err, path))?;
        parse_io(&text, path)
    }

    /// Reads the line of one queue from the table of the calling thread's network namespace.
    ///
    /// `Ok(None)` means nobody has bound that queue in this namespace.
    ///
    /// # Errors
    ///
    /// As for [`read_all`](Self::read_all).
    pub fn read_queue(queue: u16) -> io::Result<Option<Self>> {
        Ok(Self::read_all()?.into_iter().find(|s| s.queue == queue))
    }

    /// The netlink port id of the socket that holds `queue` in the calling thread's network
    /// namespace, or `None` if the queue is not bound.
    ///
    /// Useful after `EPERM` on bind: a port id here means another socket owns the queue, none
    /// means the capability was missing.
    ///
    /// # Errors
    ///
    /// As for [`read_all`](Self::read_all).
    pub fn owner_of(queue: u16) -> io::Result<Option<u32>> {
        Ok(Self::read_queue(queue)?.map(|s| s.portid))
    }

    /// The copy mode as a word: `"none"`, `"meta"`, `"packet"`, or `"unknown"` for a value this
    /// crate does not know.
    pub fn copy_mode_name(&self) -> &'static str {
        match self.copy_mode {
            COPY_NONE => "none",
            COPY_META => "meta",
            COPY_PACKET => "packet",
            _ => "unknown",
        }
    }
}

/// Parses text read from `path`, turning a format error into an `InvalidData` I/O error.
fn parse_io(text: &str, path: &Path) -> io::Result<Vec<QueueStats>> {
    QueueStats::parse_proc(text).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {err}", path.display()),
        )
    })
}

/// Adds the path and, where it helps, the likely cause to an error from opening the file.
fn explain(err: io::Error, path: &Path) -> io::Error {
    match err.kind() {
        io::ErrorKind::NotFound => io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} does not exist: the nfnetlink_queue kernel module is not loaded \
                 (load it with `modprobe nfnetlink_queue`)",
                path.display()
            ),
        ),
        io::ErrorKind::PermissionDenied => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot read {}: permission denied (the kernel lets only root read it)",
                path.display()
            ),
        ),
        _ => io::Error::new(err.kind(), format!("cannot read {}: {err}", path.display())),
    }
}

/// The column names, in file order, used in error messages.
const COLUMNS: [&str; 9] = [
    "queue number",
    "port id",
    "waiting packets",
    "copy mode",
    "copy range",
    "queue dropped",
    "user dropped",
    "id sequence",
    "constant",
];

/// Parses one non-blank line; `line_no` is 1-based and only used for errors.
fn parse_line(line: &str, line_no: usize) -> Result<QueueStats, StatsParseError> {
    let mut fields = line.split_ascii_whitespace();
    let mut values = [0u32; 8];
    for (column, value) in values.iter_mut().enumerate() {
        let field = fields.next().ok_or(StatsParseError {
            line: line_no,
            column: column + 1,
            kind: StatsParseErrorKind::MissingColumn,
        })?;
        *value = parse_u32(field).map_err(|kind| StatsParseError {
            line: line_no,
            column: column + 1,
            kind,
        })?;
    }
    if let Some(constant) = fields.next() {
        // The kernel prints it with `%2d`; only check that it is a number.
        let digits = constant.strip_prefix('-').unwrap_or(constant);
        parse_u32(digits).map_err(|kind| StatsParseError {
            line: line_no,
            column: 9,
            kind,
        })?;
    }
    let narrow = |column: usize, max: u32| {
        if values[column] > max {
            Err(StatsParseError {
                line: line_no,
                column: column + 1,
                kind: StatsParseErrorKind::OutOfRange,
            })
        } else {
            Ok(values[column])
        }
    };
    let queue = narrow(0, u32::from(u16::MAX))?;
    let copy_mode = narrow(3, u32::from(u8::MAX))?;
    Ok(QueueStats {
        queue: u16::try_from(queue).unwrap_or(u16::MAX),
        portid: values[1],
        waiting: values[2],
        copy_mode: u8::try_from(copy_mode).unwrap_or(u8::MAX),
        copy_range: values[4],
        queue_dropped: values[5],
        user_dropped: values[6],
        id_sequence: values[7],
    })
}

/// Parses a plain decimal `u32`: ASCII digits only, no sign, no other base.
fn parse_u32(field: &str) -> Result<u32, StatsParseErrorKind> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StatsParseErrorKind::NotANumber);
    }
    field.parse().map_err(|_| StatsParseErrorKind::OutOfRange)
}

/// The text of the `/proc` table is not in the format the kernel writes.
///
/// Carries the 1-based line and column of the first problem. Convert it into an
/// [`io::Error`] with `From` when an I/O error is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsParseError {
    line: usize,
    column: usize,
    kind: StatsParseErrorKind,
}

impl StatsParseError {
    /// The 1-based line number of the bad line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column (whitespace-separated field) that failed.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What was wrong with it.
    pub fn kind(&self) -> StatsParseErrorKind {
        self.kind
    }
}

/// What was wrong with a field of the `/proc` table; see [`StatsParseError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsParseErrorKind {
    /// The line ended before all eight counters.
    MissingColumn,
    /// The field is not a plain unsigned decimal number.
    NotANumber,
    /// The number is too large for its field (`u16` queue, `u8` copy mode, `u32` otherwise).
    OutOfRange,
}

impl fmt::Display for StatsParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = COLUMNS
            .get(self.column.saturating_sub(1))
            .copied()
            .unwrap_or("column");
        write!(f, "nfnetlink_queue table line {}, ", self.line)?;
        match self.kind {
            StatsParseErrorKind::MissingColumn => write!(
                f,
                "column {} ({name}) is missing: a queue line has at least 8 numbers",
                self.column
            ),
            StatsParseErrorKind::NotANumber => write!(
                f,
                "column {} ({name}) is not an unsigned decimal number",
                self.column
            ),
            StatsParseErrorKind::OutOfRange => {
                write!(f, "column {} ({name}) is out of range", self.column)
            }
        }
    }
}

impl std::error::Error for StatsParseError {}

impl From<StatsParseError> for io::Error {
    fn from(err: StatsParseError) -> Self {
        Self::new(io::ErrorKind::InvalidData, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on this machine (Linux 6.18.44) with a Python script that bound three queues from
    // two AF_NETLINK sockets of one process inside `unshare -n`, after
    // `iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5`:
    //   queue 5 on the first socket (port id = pid), copy packet with range 0xffff, queue maxlen 1;
    //   queues 7 (copy meta) and 65535 (copy packet, range 128) on the second socket, whose
    //   autobound port id is above 2^31;
    // then three UDP datagrams to 127.0.0.1:9999 that were never judged (one waits, two were
    // dropped because the queue was full), then `cat /proc/net/netfilter/nfnetlink_queue`.
    const CAPTURED: &str = "\
65535 3818515642     0 2   128     0     0        0  1
    5   6741     1 2 65531     2     0        1  1
    7 3818515642     0 1     0     0     0        0  1
";

    // Same setup without the maxlen: all three datagrams wait.
    const CAPTURED_WAITING: &str = "    5   6681     3 2 65531     0     0        3  1\n";

    #[test]
    fn parses_captured_table() {
        let stats = QueueStats::parse_proc(CAPTURED).unwrap();
        assert_eq!(
            stats,
            vec![
                QueueStats {
                    queue: 65535,
                    portid: 3_818_515_642,
                    waiting: 0,
                    copy_mode: 2,
                    copy_range: 128,
                    queue_dropped: 0,
                    user_dropped: 0,
                    id_sequence: 0,
                },
                QueueStats {
                    queue: 5,
                    portid: 6741,
                    waiting: 1,
                    copy_mode: 2,
                    copy_range: 65531,
                    queue_dropped: 2,
                    user_dropped: 0,
                    id_sequence: 1,
                },
                QueueStats {
                    queue: 7,
                    portid: 3_818_515_642,
                    waiting: 0,
                    copy_mode: 1,
                    copy_range: 0,
                    queue_dropped: 0,
                    user_dropped: 0,
                    id_sequence: 0,
                },
            ]
        );
        assert_eq!(stats[1].copy_mode_name(), "packet");
        assert_eq!(stats[2].copy_mode_name(), "meta");
    }

    #[test]
    fn parses_waiting_packets() {
        let stats = QueueStats::parse_proc(CAPTURED_WAITING).unwrap();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].waiting, 3);
        assert_eq!(stats[0].id_sequence, 3);
    }

    #[test]
    fn empty_table_is_no_queues() {
        assert_eq!(QueueStats::parse_proc("").unwrap(), vec![]);
        assert_eq!(QueueStats::parse_proc("\n \n\t\n").unwrap(), vec![]);
    }

    /// Formats a line the way the kernel does (`seq_printf` with the format of `seq_show`).
    fn kernel_line(v: [u32; 8]) -> String {
        format!(
            "{:5} {:6} {:5} {:1} {:5} {:5} {:5} {:8} {:2}\n",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], 1
        )
    }

    #[test]
    fn kernel_format_round_trips_extremes() {
        let line = kernel_line([65535, u32::MAX, u32::MAX, 0, u32::MAX, 7, 8, u32::MAX]);
        let stats = QueueStats::parse_proc(&line).unwrap();
        assert_eq!(stats[0].queue, 65535);
        assert_eq!(stats[0].portid, u32::MAX);
        assert_eq!(stats[0].waiting, u32::MAX);
        assert_eq!(stats[0].copy_mode_name(), "none");
        assert_eq!(stats[0].queue_dropped, 7);
        assert_eq!(stats[0].user_dropped, 8);
        assert_eq!(stats[0].id_sequence, u32::MAX);
    }

    #[test]
    fn lenient_about_whitespace() {
        let text = "\t0 1 2 1 0 3 4 5 1\r\n\n  9\t\t10  11 2 100 0 0 12 1";
        let stats = QueueStats::parse_proc(text).unwrap();
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].queue_dropped, 3);
        assert_eq!(stats[1].queue, 9);
        assert_eq!(stats[1].copy_range, 100);
        // Without the constant column, and with extra trailing columns.
        assert_eq!(
            QueueStats::parse_proc("1 2 3 2 4 5 6 7").unwrap()[0].id_sequence,
            7
        );
        assert_eq!(
            QueueStats::parse_proc("1 2 3 2 4 5 6 7 1 99")
                .unwrap()
                .len(),
            1
        );
    }

    fn err(text: &str) -> StatsParseError {
        QueueStats::parse_proc(text).unwrap_err()
    }

    #[test]
    fn strict_about_numbers() {
        let e = err("    5   6741     1 2 65531     2     0        1  1\ngarbage here\n");
        assert_eq!((e.line(), e.column()), (2, 1));
        assert_eq!(e.kind(), StatsParseErrorKind::NotANumber);
        assert_eq!(
            e.to_string(),
            "nfnetlink_queue table line 2, column 1 (queue number) is not an unsigned decimal number"
        );

        let e = err("5 +6741 1 2 65531 2 0 1 1");
        assert_eq!((e.column(), e.kind()), (2, StatsParseErrorKind::NotANumber));
        let e = err("5 -1 1 2 65531 2 0 1 1");
        assert_eq!((e.column(), e.kind()), (2, StatsParseErrorKind::NotANumber));
        let e = err("5 0x10 1 2 65531 2 0 1 1");
        assert_eq!(e.column(), 2);
        let e = err("5 1 1 2 65531 2 0 1.5 1");
        assert_eq!(e.column(), 8);
        let e = err("5 1 1 2 65531 2 0 1 x");
        assert_eq!(e.column(), 9);
        // The constant may be negative (`%2d`).
        assert!(QueueStats::parse_proc("5 1 1 2 65531 2 0 1 -1").is_ok());
    }

    #[test]
    fn range_checks() {
        let e = err("65536 1 0 2 0 0 0 0 1");
        assert_eq!((e.column(), e.kind()), (1, StatsParseErrorKind::OutOfRange));
        let e = err("1 4294967296 0 2 0 0 0 0 1");
        assert_eq!((e.column(), e.kind()), (2, StatsParseErrorKind::OutOfRange));
        let e = err("1 1 0 256 0 0 0 0 1");
        assert_eq!((e.column(), e.kind()), (4, StatsParseErrorKind::OutOfRange));
        assert!(e.to_string().contains("copy mode"));
        assert_eq!(
            QueueStats::parse_proc("1 1 0 9 0 0 0 0 1").unwrap()[0].copy_mode_name(),
            "unknown"
        );
    }

    #[test]
    fn short_lines() {
        let e = err("\n\n1 2 3\n");
        assert_eq!((e.line(), e.column()), (3, 4));
        assert_eq!(e.kind(), StatsParseErrorKind::MissingColumn);
        assert!(e.to_string().contains("line 3"), "{e}");
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn missing_file_names_the_module() {
        let missing = Path::new("/nonexistent/netfilter/nfnetlink_queue");
        let e = QueueStats::read_path(missing).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string()
                .contains("nfnetlink_queue kernel module is not loaded"),
            "{e}"
        );
    }

    #[test]
    fn garbage_file_is_invalid_data() {
        let dir = std::env::temp_dir().join(format!("nfq-stats-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table");
        std::fs::write(&path, "1 2 3 4 5 6 7 x 1\n").unwrap();
        let e = QueueStats::read_path(&path).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("column 8"), "{e}");
    }

    #[test]
    fn read_all_on_this_machine() {
        // The module may be missing or the file unreadable where tests run; only check that a
        // readable file parses.
        match QueueStats::read_all() {
            Ok(_) => {}
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ),
                "{e}"
            ),
        }
    }
}
