//! The NFQUEUE wire format: bytes in, typed values out; typed values in, bytes out. No I/O.
