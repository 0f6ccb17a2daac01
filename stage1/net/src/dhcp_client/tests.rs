use std::collections::VecDeque;

use super::*;
use crate::dhcp::{code, Op, FLAG_BROADCAST};
use proptest::prelude::*;

const MAC: Mac = Mac([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 9, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 213, 9, 50);

/// What the scripted server does with each message the client sends:
/// replies, each after a delay.
type Script = Box<dyn FnMut(&Message, usize) -> Vec<(Duration, Vec<u8>)>>;

/// A transport on a virtual clock: `recv` jumps the clock to the next
/// reply or to the deadline, so 30 s of silence take no time.
struct Fake {
    start: Instant,
    now: Duration,
    /// (when, what) the client sent.
    sent: Vec<(Duration, Message)>,
    inbox: VecDeque<(Duration, Vec<u8>)>,
    script: Script,
}

impl Fake {
    fn new(script: impl FnMut(&Message, usize) -> Vec<(Duration, Vec<u8>)> + 'static) -> Self {
        Self {
            start: Instant::now(),
            now: Duration::ZERO,
            sent: Vec::new(),
            inbox: VecDeque::new(),
            script: Box::new(script),
        }
    }

    fn sent_types(&self) -> Vec<MessageType> {
        self.sent
            .iter()
            .map(|(_, m)| m.message_type().unwrap())
            .collect()
    }

    fn send_times(&self) -> Vec<Duration> {
        self.sent.iter().map(|(t, _)| *t).collect()
    }
}

impl Transport for Fake {
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let msg = Message::decode(packet).unwrap();
        let n = self.sent.len();
        for (delay, reply) in (self.script)(&msg, n) {
            self.inbox.push_back((self.now + delay, reply));
        }
        self.inbox.make_contiguous().sort_by_key(|(t, _)| *t);
        self.sent.push((self.now, msg));
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<Option<usize>> {
        let until = deadline - self.start;
        match self.inbox.front() {
            Some((t, _)) if *t <= until => {
                let (t, bytes) = self.inbox.pop_front().unwrap();
                self.now = self.now.max(t);
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(Some(bytes.len()))
            }
            _ => {
                self.now = self.now.max(until);
                Ok(None)
            }
        }
    }

    fn now(&self) -> Instant {
        self.start + self.now
    }
}

/// A server reply of `kind` to `to`.
fn reply(to: &Message, kind: MessageType) -> Message {
    let mut m = Message::new(Op::Reply, to.xid, to.mac().unwrap());
    m.flags = to.flags;
    m.options.push(DhcpOption::MessageType(kind));
    m.options.push(DhcpOption::ServerId(SERVER));
    if kind != MessageType::Nak {
        m.yiaddr = OFFERED;
        m.options.extend([
            DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
            DhcpOption::Routers(vec![SERVER]),
            DhcpOption::DnsServers(vec![SERVER]),
            DhcpOption::DomainName("test.lan".into()),
            DhcpOption::LeaseTime(3600),
        ]);
    }
    m
}

/// A good server: OFFER to DISCOVER, ACK to REQUEST, after 10 ms.
fn answer(msg: &Message) -> Vec<(Duration, Vec<u8>)> {
    let kind = match msg.message_type() {
        Some(MessageType::Discover) => MessageType::Offer,
        Some(MessageType::Request) => MessageType::Ack,
        _ => return vec![],
    };
    vec![(Duration::from_millis(10), reply(msg, kind).encode())]
}

fn client(fake: Fake) -> Client<Fake> {
    Client::new(fake, "eth0", MAC, Options::default(), 42)
}

fn expected_lease() -> Lease {
    Lease {
        address: OFFERED,
        prefix: 24,
        routers: vec![SERVER],
        dns: vec![SERVER],
        hostname: None,
        domain: Some("test.lan".into()),
        lease_secs: Some(3600),
        server: SERVER,
    }
}

#[test]
fn discover_offer_request_ack() {
    let mut c = client(Fake::new(|m, _| answer(m)));
    assert_eq!(c.run().unwrap(), expected_lease());
    let fake = c.transport();
    assert_eq!(
        fake.sent_types(),
        [MessageType::Discover, MessageType::Request]
    );
    let (discover, request) = (&fake.sent[0].1, &fake.sent[1].1);
    assert_eq!(discover.xid, request.xid);
    assert_eq!(discover.flags & FLAG_BROADCAST, FLAG_BROADCAST);
    assert_eq!(request.flags & FLAG_BROADCAST, FLAG_BROADCAST);
    assert_eq!(discover.mac(), Some(MAC));
    assert_eq!(
        request.option(code::REQUESTED_IP),
        Some(&DhcpOption::RequestedIp(OFFERED))
    );
    assert_eq!(
        request.option(code::SERVER_ID),
        Some(&DhcpOption::ServerId(SERVER))
    );
}

#[test]
fn retransmits_with_exponential_backoff() {
    // Silent for the first four DISCOVERs.
    let mut c = client(Fake::new(|m, n| if n < 4 { vec![] } else { answer(m) }));
    c.run().unwrap();
    let times = c.transport().send_times();
    assert_eq!(times.len(), 6, "{times:?}");
    for (i, base) in [1, 2, 4, 8].into_iter().enumerate() {
        let gap = times[i + 1].saturating_sub(times[i]);
        let base = Duration::from_secs(base);
        assert!(gap >= base && gap < base + base / 8, "gap {i}: {gap:?}");
    }
    assert_eq!(c.transport().sent[4].1.secs as u64, times[4].as_secs());
}

#[test]
fn silence_ends_at_the_deadline_with_a_clear_error() {
    let mut c = client(Fake::new(|_, _| vec![]));
    let err = c.run().unwrap_err();
    assert_eq!(
        err.to_string(),
        "no DHCP answer on eth0 (52:54:00:12:34:56) after 30 s: check the cable/switch and \
         that a DHCP server serves this network, or use a static ip="
    );
    let fake = c.transport();
    // 0, 1, 3, 7, 15 (+ jitter): the next one would be past 30 s.
    assert_eq!(fake.sent.len(), 5, "{:?}", fake.send_times());
    assert!(fake
        .sent_types()
        .iter()
        .all(|t| *t == MessageType::Discover));
    assert_eq!(fake.now, Duration::from_secs(30));
}

#[test]
fn nak_starts_over_with_a_new_xid() {
    let mut c = client(Fake::new(|m, n| {
        if n == 1 {
            vec![(Duration::ZERO, reply(m, MessageType::Nak).encode())]
        } else {
            answer(m)
        }
    }));
    assert_eq!(c.run().unwrap(), expected_lease());
    let fake = c.transport();
    assert_eq!(
        fake.sent_types(),
        [
            MessageType::Discover,
            MessageType::Request,
            MessageType::Discover,
            MessageType::Request
        ]
    );
    assert_ne!(fake.sent[0].1.xid, fake.sent[2].1.xid);
}

#[test]
fn only_naks_end_in_refused() {
    let mut c = client(Fake::new(|m, _| match m.message_type() {
        Some(MessageType::Request) => {
            let mut nak = reply(m, MessageType::Nak);
            nak.options.push(DhcpOption::Raw {
                code: code::MESSAGE,
                data: b"wrong network".to_vec(),
            });
            vec![(Duration::from_secs(2), nak.encode())]
        }
        _ => answer(m),
    }));
    let err = c.run().unwrap_err();
    assert_eq!(
        err.to_string(),
        "DHCP on eth0 (52:54:00:12:34:56): DHCP server 10.213.9.1 refused the request \
         (DHCPNAK): wrong network, and no other server acknowledged within 30 s: check the \
         server's configuration for this MAC, or use a static ip="
    );
}

#[test]
fn offers_without_ack() {
    let mut c = client(Fake::new(|m, _| match m.message_type() {
        Some(MessageType::Discover) => answer(m),
        _ => vec![],
    }));
    let err = c.run().unwrap_err();
    assert!(
        err.to_string().starts_with(
            "DHCP on eth0 (52:54:00:12:34:56): server 10.213.9.1 offered 10.213.9.50 but did \
             not acknowledge the request within 30 s"
        ),
        "{err}"
    );
    // Four REQUESTs per offer, then a new DISCOVER.
    let types = c.transport().sent_types();
    assert_eq!(
        &types[..6],
        [
            MessageType::Discover,
            MessageType::Request,
            MessageType::Request,
            MessageType::Request,
            MessageType::Request,
            MessageType::Discover
        ]
    );
}

#[test]
fn ignores_other_transactions_and_garbage() {
    let mut c = client(Fake::new(|m, _| {
        let mut junk = Vec::new();
        let ms = Duration::from_millis;
        // Another transaction, another client, a request, garbage, a bad
        // lease (no address), an ACK from a server we did not ask.
        let mut wrong_xid = reply(m, MessageType::Offer);
        wrong_xid.xid ^= 1;
        let mut other_mac = reply(m, MessageType::Offer);
        other_mac.chaddr[5] ^= 0xff;
        let mut no_address = reply(m, MessageType::Offer);
        no_address.yiaddr = Ipv4Addr::UNSPECIFIED;
        let mut bad_cookie = reply(m, MessageType::Offer).encode();
        bad_cookie[236] = 0;
        junk.extend([
            (ms(1), wrong_xid.encode()),
            (ms(2), other_mac.encode()),
            (ms(3), m.encode()),
            (ms(4), vec![2, 1, 6]),
            (ms(5), bad_cookie),
            (ms(6), no_address.encode()),
            (ms(7), vec![0xff; 600]),
        ]);
        if m.message_type() == Some(MessageType::Request) {
            let mut other_server = reply(m, MessageType::Ack);
            other_server.options[1] = DhcpOption::ServerId(Ipv4Addr::new(10, 213, 9, 2));
            other_server.yiaddr = Ipv4Addr::new(10, 213, 9, 77);
            junk.push((ms(8), other_server.encode()));
            let mut other_nak = reply(m, MessageType::Nak);
            other_nak.options[1] = DhcpOption::ServerId(Ipv4Addr::new(10, 213, 9, 2));
            junk.push((ms(9), other_nak.encode()));
        }
        junk.extend(answer(m).into_iter().map(|(_, b)| (ms(20), b)));
        junk
    }));
    assert_eq!(c.run().unwrap(), expected_lease());
    assert_eq!(
        c.transport().sent_types(),
        [MessageType::Discover, MessageType::Request]
    );
}

#[test]
fn hostname_is_suggested() {
    let opts = Options {
        hostname: Some("node7".into()),
        ..Options::default()
    };
    let mut c = Client::new(Fake::new(|m, _| answer(m)), "eth0", MAC, opts, 1);
    c.run().unwrap();
    let discover = &c.transport().sent[0].1;
    assert_eq!(
        discover.option(code::HOST_NAME),
        Some(&DhcpOption::HostName("node7".into()))
    );
}

#[test]
fn io_errors_name_the_step() {
    struct Broken;
    impl Transport for Broken {
        fn send(&mut self, _: &[u8]) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(101))
        }
        fn recv(&mut self, _: &mut [u8], _: Instant) -> io::Result<Option<usize>> {
            Ok(None)
        }
        fn now(&self) -> Instant {
            Instant::now()
        }
    }
    let err = Client::new(Broken, "eth0", MAC, Options::default(), 1)
        .run()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("DHCP on eth0: sending to 255.255.255.255:67: "),
        "{err}"
    );
}

#[test]
fn xids_differ_between_seeds() {
    let xid = |seed| {
        let mut c = Client::new(
            Fake::new(|m, _| answer(m)),
            "eth0",
            MAC,
            Options::default(),
            seed,
        );
        c.run().unwrap();
        c.transport().sent[0].1.xid
    };
    assert_ne!(xid(1), xid(2));
    assert_ne!(random_seed(MAC), random_seed(MAC));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the network says, the client ends with a lease or an
    /// error by the deadline, and never panics.
    #[test]
    fn random_replies_never_panic(
        replies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 0..20),
        tamper in any::<bool>(),
    ) {
        let mut queue = replies.into_iter();
        let mut c = client(Fake::new(move |m, _| {
            let mut out: Vec<_> = queue
                .next()
                .map(|mut bytes| {
                    if tamper && bytes.len() > 240 {
                        // Make it look like ours so it gets further in.
                        let real = reply(m, MessageType::Offer).encode();
                        bytes[..240].copy_from_slice(&real[..240]);
                    }
                    (Duration::from_millis(5), bytes)
                })
                .into_iter()
                .collect();
            out.push((Duration::from_millis(6), vec![]));
            out
        }));
        let _ = c.run();
        prop_assert!(c.transport().now <= Duration::from_secs(30));
    }
}
