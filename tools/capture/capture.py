#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Capture NFQUEUE netlink traffic from the running kernel as codec fixtures.

Run as root from the repository root:

    python3 tools/capture/capture.py --out crates/linux-nfqueue/tests/fixtures

Every scenario runs in its own, freshly created network namespace(s) named `nfqcap-*`, which
are deleted afterwards; all traffic stays inside them (loopback, or veth pairs between the
scenario's own namespaces). Each datagram the kernel sent us, and each request we sent, is
written to `<out>/<name>.hex` with a comment header saying how it was produced.

Requests are built here with `struct.pack`, independently of the Rust encoder; the Rust tests
(`tests/codec_emit.rs`) check that the Rust encoder produces exactly these bytes, and this
script records that the kernel acknowledged them (and, for verdicts, what became of the packet).
"""

import argparse
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

AF_NETLINK = 16
NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2

NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3

NF_DROP, NF_ACCEPT, NF_STOLEN, NF_QUEUE = 0, 1, 2, 3

HERE = os.path.abspath(__file__)

# ---------------------------------------------------------------------------------------------
# Message construction (host-order netlink headers, big-endian attribute values)


def nla(ty, val):
    ln = 4 + len(val)
    return struct.pack("=HH", ln, ty) + val + b"\0" * ((4 - ln % 4) % 4)


def nfq_msg(mtype, flags, seq, res_id, attrs):
    body = struct.pack("!BBH", 0, 0, res_id) + attrs
    return struct.pack("=IHHII", 16 + len(body), (3 << 8) | mtype, flags, seq, 0) + body


ENCODER = os.environ.get("NFQ_CAPTURE_ENCODER")


def rust(py_bytes, *args):
    """The same request from the Rust encoder; it must equal the struct.pack construction."""
    if not ENCODER:
        return py_bytes
    out = subprocess.run([ENCODER, *map(str, args)], check=True, capture_output=True, text=True)
    rb = bytes.fromhex(out.stdout.strip())
    assert rb == py_bytes, f"Rust encoder differs:\n rust   {rb.hex()}\n python {py_bytes.hex()}"
    return rb


def config(seq, queue, cmd=None, params=None, maxlen=None, flags=None, ack=True):
    m = config_py(seq, queue, cmd, params, maxlen, flags, ack)
    opts = []
    if cmd is not None:
        opts.append(f"cmd={cmd}")
    if params is not None:
        opts.append(f"params={params[0]}:{params[1]}")
    if maxlen is not None:
        opts.append(f"maxlen={maxlen}")
    if flags is not None:
        opts.append(f"flags={flags[0]}:{flags[1]}")
    return rust(m, "config", seq, hdr(m)[2], queue, *opts)


def config_py(seq, queue, cmd=None, params=None, maxlen=None, flags=None, ack=True):
    a = b""
    if cmd is not None:
        a += nla(1, struct.pack("!BxH", cmd, 0))
    if params is not None:
        mode, rng = params
        a += nla(2, struct.pack("!IB", rng, mode))
    if maxlen is not None:
        a += nla(3, struct.pack("!I", maxlen))
    if flags is not None:
        value, mask = flags
        a += nla(4, struct.pack("!I", mask))
        a += nla(5, struct.pack("!I", value))
    return nfq_msg(NFQNL_MSG_CONFIG, NLM_F_REQUEST | (NLM_F_ACK if ack else 0), seq, queue, a)


def verdict(seq, queue, pid, v, mark=None, prio=None, ct=None, payload=None, ack=True, ct_args=()):
    m = verdict_py(seq, queue, pid, v, mark, prio, ct, payload, ack)
    opts = list(ct_args)
    if mark is not None:
        opts.append(f"mark={mark}")
    if prio is not None:
        opts.append(f"prio={prio}")
    if payload is not None:
        opts.append(f"payload={payload.hex()}")
    return rust(m, "verdict", seq, hdr(m)[2], queue, pid, v, *opts)


def verdict_py(seq, queue, pid, v, mark=None, prio=None, ct=None, payload=None, ack=True):
    a = nla(2, struct.pack("!II", v, pid))
    if mark is not None:
        a += nla(3, struct.pack("!I", mark))
    if prio is not None:
        a += nla(21, struct.pack("!I", prio))
    if ct is not None:
        a += nla(11 | 0x8000, ct)
    if payload is not None:
        a += nla(10, payload)
    return nfq_msg(NFQNL_MSG_VERDICT, NLM_F_REQUEST | (NLM_F_ACK if ack else 0), seq, queue, a)


def batch(seq, queue, max_id, v, mark=None, prio=None, ack=True):
    m = batch_py(seq, queue, max_id, v, mark, prio, ack)
    opts = [f"mark={mark}"] if mark is not None else []
    opts += [f"prio={prio}"] if prio is not None else []
    return rust(m, "batch", seq, hdr(m)[2], queue, max_id, v, *opts)


def batch_py(seq, queue, max_id, v, mark=None, prio=None, ack=True):
    a = nla(2, struct.pack("!II", v, max_id))
    if mark is not None:
        a += nla(3, struct.pack("!I", mark))
    if prio is not None:
        a += nla(21, struct.pack("!I", prio))
    return nfq_msg(
        NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST | (NLM_F_ACK if ack else 0), seq, queue, a
    )


def ct_nest(mark=None, labels=None):
    n = b""
    if mark is not None:
        n += nla(8, struct.pack("!I", mark[0])) + nla(21, struct.pack("!I", mark[1]))
    if labels is not None:
        n += nla(22, labels[0]) + nla(23, labels[1])
    return n


# ---------------------------------------------------------------------------------------------
# Minimal parsing, only what the script needs to drive the kernel


def hdr(b):
    return struct.unpack_from("=IHHII", b, 0)


def attrs(b, off=20):
    ln = hdr(b)[0]
    out = {}
    while off + 4 <= ln:
        alen, aty = struct.unpack_from("=HH", b, off)
        if alen < 4:
            break
        out[aty & 0x3FFF] = b[off + 4 : off + alen]
        off += (alen + 3) & ~3
    return out


def packet_id(b):
    return struct.unpack("!I", attrs(b)[1][:4])[0]


def err_info(b):
    err = struct.unpack_from("=i", b, 16)[0]
    seq = hdr(b[20:36])[3]
    return err, seq


# ---------------------------------------------------------------------------------------------
# Recording


class Recorder:
    def __init__(self, scenario, setup):
        self.scenario = scenario
        self.setup = setup
        self.items = []

    def add(self, name, data, direction, notes):
        self.items.append(
            {
                "name": name,
                "hex": data.hex(),
                "direction": direction,
                "scenario": self.scenario,
                "setup": self.setup,
                "notes": notes,
            }
        )


class Nfq:
    """One NETLINK_NETFILTER socket."""

    def __init__(self):
        self.sock = socket.socket(AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.backlog = []

    def opt(self, name, val=1):
        self.sock.setsockopt(SOL_NETLINK, name, val)

    def send(self, b):
        self.sock.send(b)

    def recv(self, timeout=3.0):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            raise TimeoutError("no datagram from the kernel")
        data, (pid, groups) = self.sock.recvfrom(1 << 18)
        assert pid == 0 and groups == 0, "datagram not from the kernel"
        return data

    def reply(self, seq, timeout=3.0):
        """Waits for the NLMSG_ERROR answering `seq`, keeping packets that arrive meanwhile."""
        end = time.time() + timeout
        while True:
            d = self.recv(max(0.05, end - time.time()))
            if hdr(d)[1] == NLMSG_ERROR and err_info(d)[1] == seq:
                return d
            self.backlog.append(d)

    def no_reply(self, timeout=0.3):
        try:
            d = self.recv(timeout)
        except TimeoutError:
            return None
        self.backlog.append(d)
        return d

    def packet(self, timeout=3.0):
        for i, d in enumerate(self.backlog):
            if hdr(d)[1] == 0x0300:
                return self.backlog.pop(i)
        end = time.time() + timeout
        while True:
            d = self.recv(max(0.05, end - time.time()))
            if hdr(d)[1] == 0x0300:
                return d
            self.backlog.append(d)


def request(q, rec, name, msg, notes, expect=0):
    """Sends `msg`, waits for its NLMSG_ERROR, records both, checks the errno."""
    seq = hdr(msg)[3]
    q.send(msg)
    r = q.reply(seq)
    err = err_info(r)[0]
    assert err == -expect, f"{name}: kernel answered {err}, expected {-expect}"
    origin = ("bytes from the Rust encoder (tools/capture/encoder), equal to the script's own struct.pack"
              if ENCODER else "bytes built by the script (struct.pack)")
    rec.add(name, msg, "user->kernel", notes + [origin, f"kernel answer: NLMSG_ERROR error {err} (seq {seq})"])
    return r


def udp_receiver(addr=("127.0.0.1", 9999), family=socket.AF_INET):
    r = socket.socket(family, socket.SOCK_DGRAM)
    r.bind(addr)
    r.setblocking(False)
    return r


def delivered(r, timeout=1.0):
    got = []
    end = time.time() + timeout
    while time.time() < end:
        rr, _, _ = select.select([r], [], [], 0.05)
        if rr:
            got.append(r.recv(65535))
        elif got:
            break
    return got


def udp_send(data, addr=("127.0.0.1", 9999), family=socket.AF_INET, prio=None):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if prio is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, prio)
    s.sendto(data, addr)
    s.close()


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


def counter(table, chain, match):
    out = sh(f"iptables -t {table} -L {chain} -v -x -n")
    for line in out.splitlines():
        if match in line:
            return int(line.split()[0])
    raise KeyError(match)


BIND_PACKET = dict(cmd=1, params=(2, 0xFFFF), maxlen=1024)

# ---------------------------------------------------------------------------------------------
# Scenarios. Each entry: (namespaces, setup commands per namespace, inner function)

SC = {}


def scenario(name, setup, extra_ns=()):
    def deco(fn):
        SC[name] = (setup, extra_ns, fn)
        return fn

    return deco


@scenario(
    "udp4_output",
    [
        "ip link set lo up",
        "iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5",
    ],
)
def sc_udp4_output(rec):
    q = Nfq()
    r = request(
        q, rec, "emit_config_bind_packet", config(1, 5, **BIND_PACKET),
        ["BIND + PARAMS(COPY_PACKET, 0xffff) + QUEUE_MAXLEN 1024 for queue 5, NLM_F_ACK, seq 1"],
    )
    rec.add("ack_config_bind", r, "kernel->user", ["the success ack (error 0) for the BIND config, seq 1"])
    rx = udp_receiver()
    udp_send(b"hello")
    p = q.packet()
    rec.add("pkt_udp4_output_hello", p, "kernel->user",
            ["UDP 127.0.0.1 -> 127.0.0.1:9999, payload b'hello', queued on OUTPUT (queue 5, id 1)",
             "nlmsg_len is not a multiple of 4 (the kernel does not pad the final PAYLOAD attribute)"])
    r = request(q, rec, "emit_verdict_accept", verdict(2, 5, packet_id(p), NF_ACCEPT),
                ["NF_ACCEPT for queue 5, id 1, NLM_F_ACK, seq 2"])
    got = delivered(rx)
    assert got == [b"hello"], got
    rec.items[-1]["notes"].append("packet delivered to the UDP receiver: b'hello'")
    rec.add("ack_verdict_accept", r, "kernel->user", ["the success ack for the verdict, seq 2"])

    udp_send(b"world!!")
    p = q.packet()
    rec.add("pkt_udp4_output_id2", p, "kernel->user", ["second packet, payload b'world!!' (id 2)"])
    request(q, rec, "emit_verdict_drop", verdict(3, 5, packet_id(p), NF_DROP),
            ["NF_DROP for queue 5, id 2, NLM_F_ACK, seq 3"])
    assert delivered(rx, 0.5) == []
    rec.items[-1]["notes"].append("packet not delivered (dropped)")

    # Errors
    m = verdict(4, 5, 999, NF_ACCEPT, ack=False)
    q.send(m)
    r = q.reply(4)
    assert err_info(r)[0] == -2
    rec.add("err_enoent_full_echo", r, "kernel->user",
            ["verdict NF_ACCEPT for unknown id 999 on queue 5, seq 4, WITHOUT NLM_F_ACK:",
             "the kernel still answers ENOENT and echoes the whole 32-byte request"])
    q.opt(NETLINK_CAP_ACK)
    q.send(verdict(5, 5, 999, NF_ACCEPT, ack=False))
    r = q.reply(5)
    assert err_info(r)[0] == -2
    rec.add("err_enoent_capped", r, "kernel->user",
            ["same bogus verdict (seq 5) after setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1):",
             "only the request header is echoed, NLM_F_CAPPED set"])
    q.opt(NETLINK_EXT_ACK)
    bad = nfq_msg(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, 6, 5, nla(1, b"\x01\x00"))
    q.send(bad)
    r = q.reply(6)
    assert err_info(r)[0] == -34
    rec.add("err_erange_extack_capped", r, "kernel->user",
            ["config with a 2-byte NFQA_CFG_CMD (seq 6), NETLINK_CAP_ACK and NETLINK_EXT_ACK set:",
             "ERANGE, NLM_F_CAPPED | NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG and NLMSGERR_ATTR_OFFS"])
    q.opt(NETLINK_CAP_ACK, 0)
    bad = nfq_msg(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, 7, 5, nla(1, b"\x01\x00"))
    q.send(bad)
    r = q.reply(7)
    assert err_info(r)[0] == -34
    rec.add("err_erange_extack_full", r, "kernel->user",
            ["the same short CFG_CMD (seq 7) with NETLINK_EXT_ACK but CAP_ACK cleared:",
             "the whole 28-byte request is echoed, then the extended-ack TLVs"])
    m = nfq_msg(NFQNL_MSG_VERDICT, NLM_F_REQUEST | NLM_F_ACK, 8, 5,
                nla(2, struct.pack("!II", NF_STOLEN, 1)))
    q.send(m)
    r = q.reply(8)
    assert err_info(r)[0] == -22
    rec.add("err_einval_stolen", r, "kernel->user",
            ["verdict NF_STOLEN (2) on queue 5 (seq 8): EINVAL, full request echoed"])
    r = request(q, rec, "emit_config_bind_again", config(9, 5, cmd=1),
                ["BIND alone for queue 5 from the owning socket, seq 9"], expect=16)
    rec.add("err_ebusy_bind_again", r, "kernel->user", ["BIND again from the same socket: EBUSY"])
    q2 = Nfq()
    q2.send(config(10, 5, cmd=1))
    r = q2.reply(10)
    assert err_info(r)[0] == -1
    rec.add("err_eperm_other_owner", r, "kernel->user",
            ["BIND of queue 5 from a second socket (seq 10): EPERM, queue owned by another portid"])
    r = request(q, rec, "emit_config_flags_conntrack", config(11, 5, flags=(2, 2)),
                ["FLAGS/MASK = CONNTRACK on bound queue 5 (seq 11); this kernel has no ctnetlink glue"],
                expect=95)
    rec.add("err_eopnotsupp_conntrack", r, "kernel->user", ["CONNTRACK flag: EOPNOTSUPP"])
    r = request(q, rec, "emit_config_unbind", config(12, 5, cmd=2), ["UNBIND queue 5, seq 12"])
    r = request(q, rec, "emit_config_unbind_again", config(13, 5, cmd=2),
                ["UNBIND queue 5 again, seq 13"], expect=19)
    rec.add("err_enodev_unbind", r, "kernel->user", ["UNBIND of a queue that does not exist: ENODEV"])


@scenario(
    "mark_prio_uidgid",
    [
        "ip link set lo up",
        "iptables -t mangle -A OUTPUT -p udp --dport 9999 -j MARK --set-mark 0x2a",
        "iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5",
        "iptables -A INPUT -p udp --dport 9999 -m mark --mark 0x77",
    ],
)
def sc_mark(rec):
    q = Nfq()
    request(q, rec, "emit_config_bind_uidgid",
            config(1, 5, cmd=1, params=(2, 0xFFFF), maxlen=1024, flags=(8, 8)),
            ["BIND + PARAMS(COPY_PACKET, 0xffff) + QUEUE_MAXLEN 1024 + MASK/FLAGS UID_GID, seq 1"])
    rx = udp_receiver()
    code = (
        "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_PRIORITY,3);"
        "s.sendto(b'marked',('127.0.0.1',9999))"
    )
    subprocess.run(["setpriv", "--reuid=1234", "--regid=2345", "--clear-groups",
                    sys.executable, "-c", code], check=True)
    p = q.packet()
    rec.add("pkt_udp4_mark_prio_uid", p, "kernel->user",
            ["UDP b'marked' to 127.0.0.1:9999 sent by uid 1234 gid 2345 (setpriv) with SO_PRIORITY 3;",
             "mangle OUTPUT set mark 0x2a; queue 5 has the UID_GID flag"])
    request(q, rec, "emit_verdict_mark_prio",
            verdict(2, 5, packet_id(p), NF_ACCEPT, mark=0x77, prio=5),
            ["NF_ACCEPT + NFQA_MARK 0x77 + NFQA_PRIORITY 5 for id 1, NLM_F_ACK, seq 2"])
    assert delivered(rx) == [b"marked"]
    n = counter("filter", "INPUT", "mark match 0x77")
    assert n == 1, n
    rec.items[-1]["notes"].append(
        "delivered; the INPUT rule '-m mark --mark 0x77' counted 1 packet (new mark applied)")


@scenario(
    "caplen_meta",
    ["ip link set lo up", "iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5"],
)
def sc_caplen(rec):
    q = Nfq()
    request(q, rec, "emit_config_bind_range64",
            config(1, 5, cmd=1, params=(2, 64), maxlen=16),
            ["BIND + PARAMS(COPY_PACKET, 64) + QUEUE_MAXLEN 16, seq 1"])
    rx = udp_receiver()
    udp_send(bytes(range(200)))
    p = q.packet()
    rec.add("pkt_udp4_caplen64", p, "kernel->user",
            ["UDP with a 200-byte payload (bytes 0..199) to 127.0.0.1:9999, copy range 64:",
             "payload truncated to 64 bytes, NFQA_CAP_LEN 228"])
    request(q, rec, "emit_verdict_accept_id1_seq2", verdict(2, 5, packet_id(p), NF_ACCEPT),
            ["accept id 1"])
    rec.items.pop()  # same bytes as emit_verdict_accept
    assert len(delivered(rx)) == 1
    request(q, rec, "emit_config_params_meta", config(3, 5, params=(1, 0)),
            ["no command, PARAMS(COPY_META, 0) on bound queue 5, seq 3"])
    udp_send(b"meta only")
    p = q.packet()
    rec.add("pkt_udp4_meta", p, "kernel->user",
            ["UDP b'meta only' in COPY_META mode: no NFQA_PAYLOAD, no NFQA_CAP_LEN (id 2)"])
    q.send(verdict(4, 5, packet_id(p), NF_ACCEPT))
    q.reply(4)
    assert len(delivered(rx)) == 1


@scenario(
    "input_lo",
    ["ip link set lo up", "iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5"],
)
def sc_input(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    rx = udp_receiver()
    udp_send(b"in")
    p = q.packet()
    rec.add("pkt_udp4_input_lo", p, "kernel->user",
            ["UDP b'in' to 127.0.0.1:9999 queued on INPUT over lo, no timestamping socket open:",
             "INDEV 1, HWADDR (6 zero bytes), no TIMESTAMP"])
    q.send(verdict(2, 5, packet_id(p), NF_ACCEPT))
    q.reply(2)
    assert delivered(rx) == [b"in"]
    rx.setsockopt(socket.SOL_SOCKET, 29, 1)  # SO_TIMESTAMP
    time.sleep(0.1)
    udp_send(b"stamped")
    p = q.packet()
    rec.add("pkt_udp4_input_tstamp", p, "kernel->user",
            ["UDP b'stamped' on INPUT over lo while the receiving socket has SO_TIMESTAMP on:",
             "NFQA_TIMESTAMP present"])
    q.send(verdict(3, 5, packet_id(p), NF_ACCEPT))
    q.reply(3)
    assert delivered(rx) == [b"stamped"]


@scenario(
    "ipv6",
    [
        "ip link set lo up",
        "ip6tables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5",
        "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type echo-request -j NFQUEUE --queue-num 5",
    ],
)
def sc_ipv6(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    time.sleep(0.5)  # let ::1 leave tentative state
    rx = udp_receiver(("::1", 9999), socket.AF_INET6)
    udp_send(b"six", ("::1", 9999), socket.AF_INET6)
    p = q.packet()
    rec.add("pkt_udp6_output", p, "kernel->user",
            ["UDP b'six' [::1] -> [::1]:9999 queued on OUTPUT by ip6tables (family NFPROTO_IPV6)"])
    q.send(verdict(2, 5, packet_id(p), NF_ACCEPT))
    q.reply(2)
    assert delivered(rx) == [b"six"]
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x1234, 1) + b"ping6", ("::1", 0))
    p = q.packet()
    rec.add("pkt_icmp6_echo_request", p, "kernel->user",
            ["ICMPv6 echo request (id 0x1234, seq 1, b'ping6') to ::1 from a raw socket, OUTPUT"])
    q.send(verdict(3, 5, packet_id(p), NF_ACCEPT))
    q.reply(3)


def ip_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


@scenario(
    "icmp4",
    ["ip link set lo up", "iptables -A OUTPUT -p icmp -j NFQUEUE --queue-num 5"],
)
def sc_icmp(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"ping"
    body = body[:2] + struct.pack("!H", ip_checksum(body)) + body[4:]
    s.sendto(body, ("127.0.0.1", 0))
    p = q.packet()
    rec.add("pkt_icmp4_echo_request", p, "kernel->user",
            ["ICMP echo request (id 0x4242, seq 1, b'ping') to 127.0.0.1 from a raw socket, OUTPUT"])
    q.send(verdict(2, 5, packet_id(p), NF_ACCEPT))
    q.reply(2)
    p = q.packet()
    rec.add("pkt_icmp4_echo_reply", p, "kernel->user",
            ["the kernel's echo reply, also queued on OUTPUT (id 2)"])
    q.send(verdict(3, 5, packet_id(p), NF_ACCEPT))
    q.reply(3)
    s.settimeout(2)
    while True:
        d = s.recv(2048)
        if d[20] == 0:
            break


@scenario(
    "tcp4",
    ["ip link set lo up", "iptables -A OUTPUT -p tcp --dport 8888 -j NFQUEUE --queue-num 8"],
)
def sc_tcp(rec):
    q = Nfq()
    q.send(config(1, 8, **BIND_PACKET))
    q.reply(1)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 8888))
    srv.listen(1)
    c = socket.socket()
    c.setblocking(False)
    c.bind(("127.0.0.1", 40000))
    try:
        c.connect(("127.0.0.1", 8888))
    except BlockingIOError:
        pass
    p = q.packet()
    rec.add("pkt_tcp4_syn", p, "kernel->user",
            ["TCP SYN 127.0.0.1:40000 -> 127.0.0.1:8888 queued on OUTPUT, queue 8"])
    q.send(verdict(2, 8, packet_id(p), NF_ACCEPT))
    q.reply(2)
    p = q.packet()
    q.send(verdict(3, 8, packet_id(p), NF_ACCEPT))
    q.reply(3)
    a, _ = srv.accept()
    c.close()
    a.close()


@scenario(
    "gso",
    ["ip link set lo up", "iptables -A OUTPUT -p tcp --dport 8888 -j NFQUEUE --queue-num 8"],
)
def sc_gso(rec):
    q = Nfq()
    request(q, rec, "emit_config_bind_gso",
            config(1, 8, cmd=1, params=(2, 128), maxlen=1024, flags=(5, 5)),
            ["BIND + PARAMS(COPY_PACKET, 128) + QUEUE_MAXLEN 1024 + MASK/FLAGS GSO|FAIL_OPEN, seq 1"])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 8888))
    srv.listen(1)
    total = 300_000
    got = []

    def server():
        a, _ = srv.accept()
        n = 0
        while n < total:
            d = a.recv(1 << 16)
            if not d:
                break
            n += len(d)
        got.append(n)
        a.close()

    def client():
        c = socket.create_connection(("127.0.0.1", 8888))
        c.sendall(b"\x5a" * total)
        time.sleep(0.3)
        c.close()

    ts = [threading.Thread(target=server), threading.Thread(target=client)]
    for t in ts:
        t.start()
    seq = 10
    seen = 0
    gso = None
    end = time.time() + 10
    while time.time() < end and not got:
        try:
            p = q.packet(0.5)
        except TimeoutError:
            continue
        seen += 1
        at = attrs(p)
        if gso is None and 14 in at and struct.unpack("!I", at[14])[0] & 2:
            gso = p
        q.send(verdict(seq, 8, packet_id(p), NF_ACCEPT, ack=False))
        seq += 1
    for t in ts:
        t.join(5)
    assert got == [total], got
    assert gso is not None
    rec.add("pkt_tcp4_gso", gso, "kernel->user",
            [f"300000 bytes of TCP over lo to 127.0.0.1:8888 with F_GSO and copy range 128: {seen} packets",
             "were queued; this is the first with NFQA_SKB_INFO GSO set (payload cut to 128, CAP_LEN = skb length)"])


@scenario(
    "batch",
    ["ip link set lo up", "iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5",
     "iptables -A INPUT -p udp --dport 9999 -m mark --mark 0x10"],
)
def sc_batch(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    rx = udp_receiver()
    for i in range(3):
        udp_send(b"batch%d" % i)
    ids = [packet_id(q.packet()) for _ in range(3)]
    assert ids == [1, 2, 3]
    request(q, rec, "emit_batch_accept_mark", batch(2, 5, 3, NF_ACCEPT, mark=0x10),
            ["NFQNL_MSG_VERDICT_BATCH NF_ACCEPT up to id 3 with NFQA_MARK 0x10 on queue 5, NLM_F_ACK, seq 2"])
    got = delivered(rx)
    assert sorted(got) == [b"batch0", b"batch1", b"batch2"], got
    assert counter("filter", "INPUT", "mark match 0x10") == 3
    rec.items[-1]["notes"].append("all 3 packets delivered, all 3 counted by the INPUT mark 0x10 rule")
    m = batch(3, 5, 10, NF_DROP, prio=1)
    q.send(m)
    r = q.reply(3)
    assert err_info(r)[0] == -2
    rec.add("emit_batch_drop_prio_empty", m, "user->kernel",
            ["batch NF_DROP up to id 10 with NFQA_PRIORITY 1 on an empty queue 5, NLM_F_ACK, seq 3",
             "bytes from the Rust encoder (tools/capture/encoder), equal to the script's own struct.pack"
             if ENCODER else "bytes built by the script (struct.pack)",
             "kernel answer: NLMSG_ERROR error -2 (ENOENT: nothing matched)"])
    rec.add("err_enoent_batch_empty", r, "kernel->user", ["ENOENT for the batch on an empty queue"])


def ipv4_udp(src, dst, sport, dport, data):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    iph = iph[:10] + struct.pack("!H", ip_checksum(iph)) + iph[12:]
    return iph + udp


@scenario(
    "payload_ct_requeue",
    ["ip link set lo up", "iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5"],
)
def sc_payload(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    rx = udp_receiver()
    udp_send(b"ping")
    p = q.packet()
    new = ipv4_udp("127.0.0.1", "127.0.0.1", 5555, 9999, b"PONG-REWRITTEN!")
    request(q, rec, "emit_verdict_payload", verdict(2, 5, packet_id(p), NF_ACCEPT, payload=new),
            ["NF_ACCEPT for id 1 with NFQA_PAYLOAD: a new 43-byte IPv4/UDP packet",
             "(127.0.0.1:5555 -> :9999, UDP checksum 0, payload b'PONG-REWRITTEN!'), NLM_F_ACK, seq 2"])
    got = delivered(rx)
    assert got == [b"PONG-REWRITTEN!"], got
    rec.items[-1]["notes"].append("the receiver got b'PONG-REWRITTEN!' instead of b'ping'")

    udp_send(b"ct")
    p = q.packet()
    lv, lm = bytes([0x80] + [0] * 15), bytes([0xFF] + [0] * 15)
    ct = ct_nest(mark=(0x1, 0xFF), labels=(lv, lm))
    request(q, rec, "emit_verdict_ct",
            verdict(3, 5, packet_id(p), NF_ACCEPT, mark=0x5, ct=ct,
                    ct_args=("ctmark=1:255", f"labels={lv.hex()}:{lm.hex()}")),
            ["NF_ACCEPT for id 2 with NFQA_MARK 5 and NFQA_CT|NLA_F_NESTED {CTA_MARK 1, CTA_MARK_MASK 0xff,",
             "CTA_LABELS 80 00.., CTA_LABELS_MASK ff 00..}, NLM_F_ACK, seq 3. This kernel lacks the ctnetlink",
             "glue, so NFQA_CT is ignored"])
    assert delivered(rx) == [b"ct"]
    rec.items[-1]["notes"].append("packet delivered")

    udp_send(b"requeue")
    p = q.packet()
    request(q, rec, "emit_verdict_queue77_bypass",
            verdict(4, 5, packet_id(p), (77 << 16) | 0x8000 | NF_QUEUE),
            ["NF_QUEUE to queue 77 (nobody bound) with the bypass bit, id 3, NLM_F_ACK, seq 4"])
    assert delivered(rx) == [b"requeue"]
    rec.items[-1]["notes"].append("delivered: bypass turned the missing listener into ACCEPT")

    udp_send(b"unknown attr")
    p = q.packet()
    m = verdict(5, 5, packet_id(p), NF_ACCEPT, prio=7)
    m = m[:32] + nla(40, b"\0\0\0\1") + m[32:]
    m = struct.pack("=I", len(m)) + m[4:]
    q.send(m)
    r = q.reply(5)
    assert err_info(r)[0] == 0
    assert delivered(rx) == [b"unknown attr"]
    rec.add("req_verdict_unknown_attr40", m, "user->kernel",
            ["NF_ACCEPT for id 4 carrying an unknown attribute type 40 before NFQA_PRIORITY 7, seq 5",
             "kernel answer: NLMSG_ERROR error 0; packet delivered (unknown types are ignored)"])


@scenario(
    "veth",
    [
        "ip link add vb type veth peer name va netns nfqcap-veth-a",
        "ip link set vb address 02:00:00:00:00:0b",
        "ip -n nfqcap-veth-a link set va address 02:00:00:00:00:0a",
        "ip addr add 10.99.0.2/24 dev vb",
        "ip -n nfqcap-veth-a addr add 10.99.0.1/24 dev va",
        "ip link set lo up",
        "ip link set vb up",
        "ip -n nfqcap-veth-a link set va up",
        "ip -n nfqcap-veth-a link set lo up",
        "iptables -t mangle -A PREROUTING -p udp --dport 9999 -j NFQUEUE --queue-num 5",
    ],
    extra_ns=("nfqcap-veth-a",),
)
def sc_veth(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    rx = udp_receiver(("10.99.0.2", 9999))
    code = ("import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
            "s.bind(('10.99.0.1',7777));s.sendto(b'over veth',('10.99.0.2',9999))")
    subprocess.run(["ip", "netns", "exec", "nfqcap-veth-a", sys.executable, "-c", code], check=True)
    p = q.packet()
    rec.add("pkt_udp4_veth_prerouting", p, "kernel->user",
            ["UDP b'over veth' 10.99.0.1:7777 (netns nfqcap-veth-a, MAC 02:00:00:00:00:0a) -> 10.99.0.2:9999,",
             "queued on mangle PREROUTING in the receiving netns (veth vb, MAC 02:00:00:00:00:0b)"])
    q.send(verdict(2, 5, packet_id(p), NF_ACCEPT))
    q.reply(2)
    assert delivered(rx) == [b"over veth"]


@scenario(
    "bridge",
    [
        "ip link add br0 type bridge",
        "ip link add p1 type veth peer name h1 netns nfqcap-br-h1",
        "ip link add p2 type veth peer name h2 netns nfqcap-br-h2",
        "ip link set p1 master br0",
        "ip link set p2 master br0",
        "ip link set lo up",
        "ip link set br0 up",
        "ip link set p1 up",
        "ip link set p2 up",
        "ip -n nfqcap-br-h1 link set h1 address 02:00:00:00:01:01",
        "ip -n nfqcap-br-h2 link set h2 address 02:00:00:00:02:02",
        "ip -n nfqcap-br-h1 addr add 10.98.0.1/24 dev h1",
        "ip -n nfqcap-br-h2 addr add 10.98.0.2/24 dev h2",
        "ip -n nfqcap-br-h1 link set h1 up",
        "ip -n nfqcap-br-h2 link set h2 up",
        "ip -n nfqcap-br-h1 neigh add 10.98.0.2 lladdr 02:00:00:00:02:02 dev h1",
        "sysctl -qw net.bridge.bridge-nf-call-iptables=1",
        "iptables -A FORWARD -p udp --dport 9999 -j NFQUEUE --queue-num 5",
    ],
    extra_ns=("nfqcap-br-h1", "nfqcap-br-h2"),
)
def sc_bridge(rec):
    q = Nfq()
    q.send(config(1, 5, **BIND_PACKET))
    q.reply(1)
    rx_code = ("import socket,select;r=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
               "r.bind(('10.98.0.2',9999));r.settimeout(5);print(r.recv(100).decode())")
    rx = subprocess.Popen(["ip", "netns", "exec", "nfqcap-br-h2", sys.executable, "-c", rx_code],
                          stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    code = ("import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
            "s.bind(('10.98.0.1',7777));s.sendto(b'bridged',('10.98.0.2',9999))")
    subprocess.run(["ip", "netns", "exec", "nfqcap-br-h1", sys.executable, "-c", code], check=True)
    p = q.packet()
    rec.add("pkt_udp4_bridge_forward", p, "kernel->user",
            ["UDP b'bridged' 10.98.0.1:7777 (h1, 02:00:00:00:01:01) -> 10.98.0.2:9999 (h2) across bridge br0",
             "(ports p1, p2) with br_netfilter (bridge-nf-call-iptables=1), queued by iptables FORWARD:",
             "family IPv4, INDEV/OUTDEV = br0, PHYSINDEV = p1, PHYSOUTDEV = p2, HWADDR of h1"])
    q.send(verdict(2, 5, packet_id(p), NF_ACCEPT))
    q.reply(2)
    out, _ = rx.communicate(timeout=6)
    assert out.strip() == "bridged", out
    rec.items[-1]["notes"].append("ifindexes: " + sh("ip -o link show | cut -d: -f1,2 | tr '\\n' ' '"))


# ---------------------------------------------------------------------------------------------
# Driver


def inner(name):
    setup, _extra, fn = SC[name]
    rec = Recorder(name, setup)
    fn(rec)
    json.dump(rec.items, sys.stdout)


def build_encoder():
    here = os.path.dirname(HERE)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    os.path.join(here, "encoder", "Cargo.toml")], check=True)
    return os.path.join(here, "encoder", "target", "release", "nfq-capture-encoder")


def outer(out_dir, only, python_only):
    os.makedirs(out_dir, exist_ok=True)
    if not python_only:
        os.environ["NFQ_CAPTURE_ENCODER"] = build_encoder()
    for name, (setup, extra, _fn) in SC.items():
        if only and name not in only:
            continue
        ns = f"nfqcap-{name.replace('_', '-')}"
        if name == "veth":
            ns = "nfqcap-veth-b"
        if name == "bridge":
            ns = "nfqcap-br"
        spaces = [ns, *extra]
        try:
            for n in spaces:
                subprocess.run(["ip", "netns", "add", n], check=True)
            for cmd in setup:
                subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", cmd], check=True)
            res = subprocess.run(["ip", "netns", "exec", ns, sys.executable, HERE, "--inner", name],
                                 check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as e:
            print(f"scenario {name} FAILED:\n{e.stderr}", file=sys.stderr)
            raise
        finally:
            for n in spaces:
                subprocess.run(["ip", "netns", "del", n], check=False)
        for it in json.loads(res.stdout):
            write_fixture(out_dir, it, ns)
        print(f"scenario {name}: ok", file=sys.stderr)


def write_fixture(out_dir, it, ns):
    lines = [
        f"# {it['name']}: {it['direction']}, captured on Linux {os.uname().release} ({os.uname().machine})",
        f"# by tools/capture/capture.py, scenario '{it['scenario']}', in a fresh network namespace {ns}",
        "# set up with:",
    ]
    lines += [f"#   {c}" for c in it["setup"]]
    lines += [f"# {n}" for n in it["notes"]]
    h = it["hex"]
    lines += [h[i : i + 64] for i in range(0, len(h), 64)]
    with open(os.path.join(out_dir, it["name"] + ".hex"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="crates/linux-nfqueue/tests/fixtures")
    ap.add_argument("--inner")
    ap.add_argument("--python-only", action="store_true",
                    help="send the script's own bytes without building the Rust encoder")
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    if a.inner:
        inner(a.inner)
    else:
        outer(a.out, a.only, a.python_only)


if __name__ == "__main__":
    main()
