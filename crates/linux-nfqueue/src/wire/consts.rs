// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel constants under their C names, from the Linux UAPI headers.
//!
//! Sources: `include/uapi/linux/netlink.h`, `include/uapi/linux/netfilter/nfnetlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink_queue.h`,
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h` and
//! `include/uapi/linux/netfilter.h`. The typed API of [`crate::wire`] uses Rust names and carries
//! these names as doc aliases.

// ---- netlink.h: message header --------------------------------------------------------------

/// Size of `struct nlmsghdr` (u32 len, u16 type, u16 flags, u32 seq, u32 pid), host order.
pub const NLMSG_HDRLEN: usize = 16;
/// Netlink messages and attributes are aligned to this many bytes.
pub const NLMSG_ALIGNTO: usize = 4;

/// `NLMSG_NOOP`: nothing, to be ignored.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error or, with error 0, an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multipart dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: the message is a request (required for the kernel to process it).
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_MULTI`: part of a multipart message.
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_ACK`: ask for an acknowledgement (an `NLMSG_ERROR` with error 0 on success).
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_ECHO`: echo this request.
pub const NLM_F_ECHO: u16 = 0x08;
/// `NLM_F_DUMP_INTR`: a dump was inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP_FILTERED`: a dump was filtered as requested.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
/// `NLM_F_CAPPED` (in `NLMSG_ERROR`): the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` (in `NLMSG_ERROR`): extended-ack attributes follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLMSGERR_ATTR_MSG`: extended ack, NUL-terminated error text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLMSGERR_ATTR_OFFS`: extended ack, u32 offset of the offending attribute in the request.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// `NLMSGERR_ATTR_COOKIE`: extended ack, opaque cookie.
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
/// `NLMSGERR_ATTR_POLICY`: extended ack, nested policy description.
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
/// `NLMSGERR_ATTR_MISS_TYPE`: extended ack, type of a missing attribute.
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
/// `NLMSGERR_ATTR_MISS_NEST`: extended ack, offset of the nest missing an attribute.
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

/// `SOL_NETLINK`: socket option level for netlink options.
pub const SOL_NETLINK: i32 = 270;
/// `NETLINK_NO_ENOBUFS` socket option.
pub const NETLINK_NO_ENOBUFS: i32 = 5;
/// `NETLINK_CAP_ACK` socket option: error acks echo only the request header.
pub const NETLINK_CAP_ACK: i32 = 10;
/// `NETLINK_EXT_ACK` socket option: error acks carry `NLMSGERR_ATTR_*` TLVs.
pub const NETLINK_EXT_ACK: i32 = 11;
/// `NETLINK_NETFILTER`: the netlink protocol number of nfnetlink.
pub const NETLINK_NETFILTER: i32 = 12;

// ---- netlink.h: attributes -------------------------------------------------------------------

/// Size of `struct nlattr` (u16 len, u16 type), host order.
pub const NLA_HDRLEN: usize = 4;
/// `NLA_F_NESTED`: the attribute holds attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLA_F_NET_BYTEORDER`: the value is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// `NLA_TYPE_MASK`: the bits of `nla_type` that hold the type.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

// ---- nfnetlink.h -----------------------------------------------------------------------------

/// Size of `struct nfgenmsg` (u8 family, u8 version, be16 res_id).
pub const NFGENMSG_LEN: usize = 4;
/// `NFNETLINK_V0`: the only nfgenmsg version.
pub const NFNETLINK_V0: u8 = 0;
/// `NFNL_SUBSYS_QUEUE`: the nfnetlink subsystem id of NFQUEUE (high byte of `nlmsg_type`).
pub const NFNL_SUBSYS_QUEUE: u8 = 3;

// ---- nfnetlink_queue.h: message types --------------------------------------------------------

/// `NFQNL_MSG_PACKET`: a queued packet, kernel to user.
pub const NFQNL_MSG_PACKET: u8 = 0;
/// `NFQNL_MSG_VERDICT`: a verdict for one packet.
pub const NFQNL_MSG_VERDICT: u8 = 1;
/// `NFQNL_MSG_CONFIG`: queue configuration.
pub const NFQNL_MSG_CONFIG: u8 = 2;
/// `NFQNL_MSG_VERDICT_BATCH`: a verdict for every queued packet up to an id.
pub const NFQNL_MSG_VERDICT_BATCH: u8 = 3;

/// Full `nlmsg_type` of a packet message: `(NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET`.
pub const NFQ_TYPE_PACKET: u16 = ((NFNL_SUBSYS_QUEUE as u16) << 8) | NFQNL_MSG_PACKET as u16;
/// Full `nlmsg_type` of a verdict message.
pub const NFQ_TYPE_VERDICT: u16 = ((NFNL_SUBSYS_QUEUE as u16) << 8) | NFQNL_MSG_VERDICT as u16;
/// Full `nlmsg_type` of a config message.
pub const NFQ_TYPE_CONFIG: u16 = ((NFNL_SUBSYS_QUEUE as u16) << 8) | NFQNL_MSG_CONFIG as u16;
/// Full `nlmsg_type` of a batch verdict message.
pub const NFQ_TYPE_VERDICT_BATCH: u16 =
    ((NFNL_SUBSYS_QUEUE as u16) << 8) | NFQNL_MSG_VERDICT_BATCH as u16;

// ---- nfnetlink_queue.h: packet and verdict attributes (enum nfqnl_attr_type) -----------------

/// `NFQA_UNSPEC`: unused attribute type 0.
pub const NFQA_UNSPEC: u16 = 0;
/// `nfqnl_msg_packet_hdr`: be32 packet_id, be16 hw_protocol, u8 hook (7 bytes).
pub const NFQA_PACKET_HDR: u16 = 1;
/// `nfqnl_msg_verdict_hdr`: be32 verdict, be32 id (8 bytes).
pub const NFQA_VERDICT_HDR: u16 = 2;
/// be32 skb->mark.
pub const NFQA_MARK: u16 = 3;
/// `nfqnl_msg_packet_timestamp`: be64 sec, be64 usec.
pub const NFQA_TIMESTAMP: u16 = 4;
/// be32 input ifindex.
pub const NFQA_IFINDEX_INDEV: u16 = 5;
/// be32 output ifindex.
pub const NFQA_IFINDEX_OUTDEV: u16 = 6;
/// be32 physical input ifindex (br_netfilter).
pub const NFQA_IFINDEX_PHYSINDEV: u16 = 7;
/// be32 physical output ifindex (br_netfilter).
pub const NFQA_IFINDEX_PHYSOUTDEV: u16 = 8;
/// `nfqnl_msg_packet_hw`: `be16 hw_addrlen`, `u16 pad`, `u8 hw_addr[8]`.
pub const NFQA_HWADDR: u16 = 9;
/// The packet bytes (L3, or L2 for the bridge family).
pub const NFQA_PAYLOAD: u16 = 10;
/// Nested `CTA_*` conntrack attributes.
pub const NFQA_CT: u16 = 11;
/// be32 `enum ip_conntrack_info`.
pub const NFQA_CT_INFO: u16 = 12;
/// be32 original packet length when the payload was truncated.
pub const NFQA_CAP_LEN: u16 = 13;
/// be32 `NFQA_SKB_*` bits.
pub const NFQA_SKB_INFO: u16 = 14;
/// Nested `CTA_EXPECT_*` (verdicts only).
pub const NFQA_EXP: u16 = 15;
/// be32 uid of the owning socket.
pub const NFQA_UID: u16 = 16;
/// be32 gid of the owning socket.
pub const NFQA_GID: u16 = 17;
/// LSM security context string.
pub const NFQA_SECCTX: u16 = 18;
/// Nested `NFQA_VLAN_*`.
pub const NFQA_VLAN: u16 = 19;
/// Raw MAC header bytes (bridge family).
pub const NFQA_L2HDR: u16 = 20;
/// be32 skb->priority (Linux 5.18).
pub const NFQA_PRIORITY: u16 = 21;
/// be32 net_cls classid (Linux 6.4).
pub const NFQA_CGROUP_CLASSID: u16 = 22;
/// Highest packet attribute type known here (`NFQA_MAX` of Linux 6.18).
pub const NFQA_MAX: u16 = 22;

/// `NFQA_VLAN_PROTO` inside `NFQA_VLAN`: be16 TPID.
pub const NFQA_VLAN_PROTO: u16 = 1;
/// `NFQA_VLAN_TCI` inside `NFQA_VLAN`: be16 TCI.
pub const NFQA_VLAN_TCI: u16 = 2;

/// `NFQA_SKB_CSUMNOTREADY`: checksum left for offload (`CHECKSUM_PARTIAL`).
pub const NFQA_SKB_CSUMNOTREADY: u32 = 1 << 0;
/// `NFQA_SKB_GSO`: the packet is a GSO super-packet.
pub const NFQA_SKB_GSO: u32 = 1 << 1;
/// `NFQA_SKB_CSUM_NOTVERIFIED`: checksum not validated yet.
pub const NFQA_SKB_CSUM_NOTVERIFIED: u32 = 1 << 2;

// ---- nfnetlink_queue.h: configuration --------------------------------------------------------

/// `nfqnl_msg_config_cmd`: u8 command, u8 pad, be16 pf.
pub const NFQA_CFG_CMD: u16 = 1;
/// `nfqnl_msg_config_params`: be32 copy_range, u8 copy_mode (5 bytes, packed).
pub const NFQA_CFG_PARAMS: u16 = 2;
/// be32 maximum queue length.
pub const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
/// be32 mask of flags to change.
pub const NFQA_CFG_MASK: u16 = 4;
/// be32 flag values.
pub const NFQA_CFG_FLAGS: u16 = 5;

/// `NFQNL_CFG_CMD_NONE`: config command none (reconfigure a bound queue).
pub const NFQNL_CFG_CMD_NONE: u8 = 0;
/// `NFQNL_CFG_CMD_BIND`: config command that creates the queue, owned by the sender's portid.
pub const NFQNL_CFG_CMD_BIND: u8 = 1;
/// `NFQNL_CFG_CMD_UNBIND`: config command that destroys the queue, dropping queued packets.
pub const NFQNL_CFG_CMD_UNBIND: u8 = 2;
/// No-op since Linux 3.8; makes the kernel ignore the rest of the message.
pub const NFQNL_CFG_CMD_PF_BIND: u8 = 3;
/// No-op since Linux 3.8; makes the kernel ignore the rest of the message.
pub const NFQNL_CFG_CMD_PF_UNBIND: u8 = 4;

/// `NFQNL_COPY_NONE`: copy mode nothing (packets are dropped in this mode).
pub const NFQNL_COPY_NONE: u8 = 0;
/// `NFQNL_COPY_META`: copy mode metadata only.
pub const NFQNL_COPY_META: u8 = 1;
/// `NFQNL_COPY_PACKET`: copy mode metadata and up to copy_range payload bytes.
pub const NFQNL_COPY_PACKET: u8 = 2;

/// `NFQA_CFG_F_FAIL_OPEN`: queue flag, accept instead of drop when the queue or socket is full.
pub const NFQA_CFG_F_FAIL_OPEN: u32 = 1 << 0;
/// `NFQA_CFG_F_CONNTRACK`: queue flag, add NFQA_CT and NFQA_CT_INFO.
pub const NFQA_CFG_F_CONNTRACK: u32 = 1 << 1;
/// `NFQA_CFG_F_GSO`: queue flag, queue GSO packets unsegmented.
pub const NFQA_CFG_F_GSO: u32 = 1 << 2;
/// `NFQA_CFG_F_UID_GID`: queue flag, add NFQA_UID and NFQA_GID.
pub const NFQA_CFG_F_UID_GID: u32 = 1 << 3;
/// `NFQA_CFG_F_SECCTX`: queue flag, add NFQA_SECCTX.
pub const NFQA_CFG_F_SECCTX: u32 = 1 << 4;
/// First unsupported flag bit; any bit at or above gives `-EOPNOTSUPP`.
pub const NFQA_CFG_F_MAX: u32 = 1 << 5;

/// Largest payload an attribute can carry: `0xffff - NLA_HDRLEN`.
pub const NFQ_MAX_PAYLOAD: usize = 0xffff - NLA_HDRLEN;

// ---- netfilter.h: verdicts -------------------------------------------------------------------

/// `NF_DROP`: verdict code, drop the packet.
pub const NF_DROP: u32 = 0;
/// `NF_ACCEPT`: verdict code, accept and continue with the next hook entry.
pub const NF_ACCEPT: u32 = 1;
/// Rejected by NFQUEUE with `-EINVAL`; not expressible by [`crate::wire::Verdict`].
pub const NF_STOLEN: u32 = 2;
/// `NF_QUEUE`: verdict code, requeue to the queue in bits 16-31.
pub const NF_QUEUE: u32 = 3;
/// `NF_REPEAT`: verdict code, call the same hook entry again.
pub const NF_REPEAT: u32 = 4;
/// `NF_STOP`: verdict code, accept and skip later hook entries.
pub const NF_STOP: u32 = 5;
/// `NF_MAX_VERDICT`: highest verdict code the kernel accepts.
pub const NF_MAX_VERDICT: u32 = NF_STOP;
/// Bits of the verdict the kernel reads as the code.
pub const NF_VERDICT_MASK: u32 = 0x0000_00ff;
/// `NF_VERDICT_FLAG_QUEUE_BYPASS`: requeue to a queue without listener accepts.
pub const NF_VERDICT_FLAG_QUEUE_BYPASS: u32 = 0x0000_8000;
/// Shift of the target queue number in an `NF_QUEUE` verdict.
pub const NF_VERDICT_QBITS: u32 = 16;

// ---- netfilter.h: protocol families (NFPROTO_*) ----------------------------------------------

/// `NFPROTO_UNSPEC`: protocol family unspecified (requests).
pub const NFPROTO_UNSPEC: u8 = 0;
/// `NFPROTO_INET`: protocol family inet (IPv4 and IPv6 tables; never in packets).
pub const NFPROTO_INET: u8 = 1;
/// `NFPROTO_IPV4`: protocol family IPv4.
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_ARP`: protocol family ARP.
pub const NFPROTO_ARP: u8 = 3;
/// `NFPROTO_NETDEV`: protocol family netdev.
pub const NFPROTO_NETDEV: u8 = 5;
/// `NFPROTO_BRIDGE`: protocol family bridge.
pub const NFPROTO_BRIDGE: u8 = 7;
/// `NFPROTO_IPV6`: protocol family IPv6.
pub const NFPROTO_IPV6: u8 = 10;

/// `NF_INET_PRE_ROUTING`: inet and bridge hook prerouting.
pub const NF_INET_PRE_ROUTING: u8 = 0;
/// `NF_INET_LOCAL_IN`: inet and bridge hook input.
pub const NF_INET_LOCAL_IN: u8 = 1;
/// `NF_INET_FORWARD`: inet and bridge hook forward.
pub const NF_INET_FORWARD: u8 = 2;
/// `NF_INET_LOCAL_OUT`: inet and bridge hook output.
pub const NF_INET_LOCAL_OUT: u8 = 3;
/// `NF_INET_POST_ROUTING`: inet and bridge hook postrouting.
pub const NF_INET_POST_ROUTING: u8 = 4;
/// `NF_NETDEV_INGRESS`: netdev hook ingress.
pub const NF_NETDEV_INGRESS: u8 = 0;
/// `NF_NETDEV_EGRESS`: netdev hook egress.
pub const NF_NETDEV_EGRESS: u8 = 1;
/// `NF_ARP_IN`: ARP hook input.
pub const NF_ARP_IN: u8 = 0;
/// `NF_ARP_OUT`: ARP hook output.
pub const NF_ARP_OUT: u8 = 1;
/// `NF_ARP_FORWARD`: ARP hook forward.
pub const NF_ARP_FORWARD: u8 = 2;

// ---- nf_conntrack_common.h: enum ip_conntrack_info --------------------------------------------

/// `IP_CT_ESTABLISHED`: conntrack info, established, original direction.
pub const IP_CT_ESTABLISHED: u32 = 0;
/// `IP_CT_RELATED`: conntrack info, related, original direction.
pub const IP_CT_RELATED: u32 = 1;
/// `IP_CT_NEW`: conntrack info, new connection.
pub const IP_CT_NEW: u32 = 2;
/// `IP_CT_ESTABLISHED_REPLY`: conntrack info, established, reply direction.
pub const IP_CT_ESTABLISHED_REPLY: u32 = 3;
/// `IP_CT_RELATED_REPLY`: conntrack info, related, reply direction.
pub const IP_CT_RELATED_REPLY: u32 = 4;

// ---- nfnetlink_conntrack.h: enum ctattr_type --------------------------------------------------

/// `CTA_TUPLE_ORIG`: conntrack, nested original-direction tuple.
pub const CTA_TUPLE_ORIG: u16 = 1;
/// `CTA_TUPLE_REPLY`: conntrack, nested reply-direction tuple.
pub const CTA_TUPLE_REPLY: u16 = 2;
/// `CTA_STATUS`: conntrack, be32 IPS_* status bits.
pub const CTA_STATUS: u16 = 3;
/// `CTA_PROTOINFO`: conntrack, nested protocol state.
pub const CTA_PROTOINFO: u16 = 4;
/// `CTA_HELP`: conntrack, nested helper.
pub const CTA_HELP: u16 = 5;
/// `CTA_NAT_SRC`: conntrack, nested source NAT.
pub const CTA_NAT_SRC: u16 = 6;
/// `CTA_TIMEOUT`: conntrack, be32 seconds to expiry.
pub const CTA_TIMEOUT: u16 = 7;
/// `CTA_MARK`: conntrack, be32 connection mark.
pub const CTA_MARK: u16 = 8;
/// `CTA_COUNTERS_ORIG`: conntrack, nested original-direction counters.
pub const CTA_COUNTERS_ORIG: u16 = 9;
/// `CTA_COUNTERS_REPLY`: conntrack, nested reply-direction counters.
pub const CTA_COUNTERS_REPLY: u16 = 10;
/// `CTA_USE`: conntrack, be32 reference count.
pub const CTA_USE: u16 = 11;
/// `CTA_ID`: conntrack, be32 entry id.
pub const CTA_ID: u16 = 12;
/// `CTA_NAT_DST`: conntrack, nested destination NAT.
pub const CTA_NAT_DST: u16 = 13;
/// `CTA_TUPLE_MASTER`: conntrack, nested master tuple of an expected connection.
pub const CTA_TUPLE_MASTER: u16 = 14;
/// `CTA_SEQ_ADJ_ORIG`: conntrack, nested sequence adjustment, original direction.
pub const CTA_SEQ_ADJ_ORIG: u16 = 15;
/// `CTA_SEQ_ADJ_REPLY`: conntrack, nested sequence adjustment, reply direction.
pub const CTA_SEQ_ADJ_REPLY: u16 = 16;
/// `CTA_SECMARK`: conntrack, obsolete secmark.
pub const CTA_SECMARK: u16 = 17;
/// `CTA_ZONE`: conntrack, be16 zone.
pub const CTA_ZONE: u16 = 18;
/// `CTA_SECCTX`: conntrack, nested security context.
pub const CTA_SECCTX: u16 = 19;
/// `CTA_TIMESTAMP`: conntrack, nested start and stop timestamps.
pub const CTA_TIMESTAMP: u16 = 20;
/// `CTA_MARK_MASK`: conntrack, be32 mask of the mark bits to change.
pub const CTA_MARK_MASK: u16 = 21;
/// `CTA_LABELS`: conntrack, label bits (up to 16 bytes, a multiple of 4).
pub const CTA_LABELS: u16 = 22;
/// `CTA_LABELS_MASK`: conntrack, mask of the label bits to change, as long as CTA_LABELS.
pub const CTA_LABELS_MASK: u16 = 23;
/// `CTA_SYNPROXY`: conntrack, nested synproxy state.
pub const CTA_SYNPROXY: u16 = 24;

// enum ctattr_tuple
/// `CTA_TUPLE_IP`: tuple, nested addresses.
pub const CTA_TUPLE_IP: u16 = 1;
/// `CTA_TUPLE_PROTO`: tuple, nested L4 protocol data.
pub const CTA_TUPLE_PROTO: u16 = 2;
/// `CTA_TUPLE_ZONE`: tuple, be16 zone.
pub const CTA_TUPLE_ZONE: u16 = 3;

// enum ctattr_ip
/// `CTA_IP_V4_SRC`: tuple address, IPv4 source (4 bytes).
pub const CTA_IP_V4_SRC: u16 = 1;
/// `CTA_IP_V4_DST`: tuple address, IPv4 destination (4 bytes).
pub const CTA_IP_V4_DST: u16 = 2;
/// `CTA_IP_V6_SRC`: tuple address, IPv6 source (16 bytes).
pub const CTA_IP_V6_SRC: u16 = 3;
/// `CTA_IP_V6_DST`: tuple address, IPv6 destination (16 bytes).
pub const CTA_IP_V6_DST: u16 = 4;

// enum ctattr_l4proto
/// `CTA_PROTO_NUM`: tuple protocol, u8 IP protocol number.
pub const CTA_PROTO_NUM: u16 = 1;
/// `CTA_PROTO_SRC_PORT`: tuple protocol, be16 source port.
pub const CTA_PROTO_SRC_PORT: u16 = 2;
/// `CTA_PROTO_DST_PORT`: tuple protocol, be16 destination port.
pub const CTA_PROTO_DST_PORT: u16 = 3;
/// `CTA_PROTO_ICMP_ID`: tuple protocol, be16 ICMP id.
pub const CTA_PROTO_ICMP_ID: u16 = 4;
/// `CTA_PROTO_ICMP_TYPE`: tuple protocol, u8 ICMP type.
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
/// `CTA_PROTO_ICMP_CODE`: tuple protocol, u8 ICMP code.
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
/// `CTA_PROTO_ICMPV6_ID`: tuple protocol, be16 ICMPv6 id.
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
/// `CTA_PROTO_ICMPV6_TYPE`: tuple protocol, u8 ICMPv6 type.
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
/// `CTA_PROTO_ICMPV6_CODE`: tuple protocol, u8 ICMPv6 code.
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;

/// Size of conntrack labels (`NF_CT_LABELS_MAX_SIZE`, 128 bits).
pub const NF_CT_LABELS_MAX_SIZE: usize = 16;

// ---- errno values the protocol uses that libc does not name ---------------------------------

/// Kernel-internal `ENOTSUPP`, returned for userspace `NFQNL_MSG_PACKET` and (up to 6.17)
/// unknown config commands.
pub const ENOTSUPP: i32 = 524;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types() {
        assert_eq!(NFQ_TYPE_PACKET, 0x0300);
        assert_eq!(NFQ_TYPE_VERDICT, 0x0301);
        assert_eq!(NFQ_TYPE_CONFIG, 0x0302);
        assert_eq!(NFQ_TYPE_VERDICT_BATCH, 0x0303);
        assert_eq!(NFQ_MAX_PAYLOAD, 65531);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn agree_with_libc() {
        assert_eq!(NETLINK_NETFILTER, libc::NETLINK_NETFILTER);
        assert_eq!(SOL_NETLINK, libc::SOL_NETLINK);
        assert_eq!(NETLINK_CAP_ACK, libc::NETLINK_CAP_ACK);
        assert_eq!(NETLINK_EXT_ACK, libc::NETLINK_EXT_ACK);
        assert_eq!(NETLINK_NO_ENOBUFS, libc::NETLINK_NO_ENOBUFS);
        assert_eq!(i32::from(NLMSG_ERROR), libc::NLMSG_ERROR);
        assert_eq!(i32::from(NLMSG_DONE), libc::NLMSG_DONE);
        assert_eq!(i32::from(NLM_F_REQUEST), libc::NLM_F_REQUEST);
        assert_eq!(i32::from(NLM_F_ACK), libc::NLM_F_ACK);
        assert_eq!(i32::from(NLA_F_NESTED), libc::NLA_F_NESTED);
        assert_eq!(i32::from(NLA_TYPE_MASK), libc::NLA_TYPE_MASK & 0xffff);
        assert_eq!(i32::from(NFQA_PACKET_HDR), libc::NFQA_PACKET_HDR);
        assert_eq!(i32::from(NFQA_PAYLOAD), libc::NFQA_PAYLOAD);
        assert_eq!(i32::from(NFQA_SECCTX), libc::NFQA_SECCTX);
        assert_eq!(i32::from(NFQA_CFG_FLAGS), libc::NFQA_CFG_FLAGS);
        assert_eq!(
            i32::from(NFQNL_MSG_VERDICT_BATCH),
            libc::NFQNL_MSG_VERDICT_BATCH
        );
        assert_eq!(NFQA_CFG_F_SECCTX as i32, libc::NFQA_CFG_F_SECCTX);
        assert_eq!(NF_STOP as i32, libc::NF_STOP);
        assert_eq!(i32::from(NFPROTO_IPV6), libc::NFPROTO_IPV6);
        assert_eq!(i32::from(NFPROTO_NETDEV), libc::NFPROTO_NETDEV);
    }
}
