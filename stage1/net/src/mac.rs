//! MAC addresses and the parameters that name NICs by them: dracut's
//! `ifname=<name>:<mac>` and PXE/iPXE's `BOOTIF=`.

use std::fmt;

/// A bad network parameter (`ip=`, `ifname=` or `BOOTIF=`): which one, its
/// value, and why. Defined here, below [`crate::config`], which re-exports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `ip`, `ifname` or `BOOTIF`.
    pub param: &'static str,
    /// The value as given.
    pub value: String,
    /// What is wrong and what is accepted.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(param: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            param,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.param, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A MAC-48 (Ethernet) address; shown as `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, two hex digits (either
    /// case) per byte.
    pub fn parse(s: &str) -> Option<Self> {
        let sep = if s.contains('-') { '-' } else { ':' };
        Self::from_fields(&s.split(sep).collect::<Vec<_>>())
    }

    /// Six fields of two hex digits each.
    pub(super) fn from_fields(fields: &[&str]) -> Option<Self> {
        let mut mac = [0; 6];
        if fields.len() != 6 {
            return None;
        }
        for (byte, field) in mac.iter_mut().zip(fields) {
            *byte = hex_byte(field)?;
        }
        Some(Self(mac))
    }

    /// A `BOOTIF=` value: PXELINUX/iPXE's `01-aa-bb-cc-dd-ee-ff`, where the
    /// leading `01` is the ARP hardware type (Ethernet), or a plain MAC.
    pub fn parse_bootif(value: &str) -> Result<Self, ConfigError> {
        let fields: Vec<&str> = value.split('-').collect();
        if let [hwtype, rest @ ..] = fields.as_slice() {
            if rest.len() == 6 {
                if hwtype.eq_ignore_ascii_case("01") {
                    if let Some(mac) = Self::from_fields(rest) {
                        return Ok(mac);
                    }
                } else if hex_byte(hwtype).is_some() {
                    let reason = format!("hardware type {hwtype} is not Ethernet (01)");
                    return Err(ConfigError::new("BOOTIF", value, reason));
                }
            }
        }
        Self::parse(value).ok_or_else(|| {
            let reason = "expected 01-aa-bb-cc-dd-ee-ff (PXE/iPXE) or aa:bb:cc:dd:ee:ff";
            ConfigError::new("BOOTIF", value, reason)
        })
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

fn hex_byte(s: &str) -> Option<u8> {
    let ok = s.len() == 2 && s.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u8::from_str_radix(s, 16).ok()).flatten()
}

/// dracut's `ifname=<name>:<mac>`: give the NIC with this MAC this name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfName {
    pub name: String,
    pub mac: Mac,
}

impl IfName {
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let err = |reason: String| ConfigError::new("ifname", value, reason);
        let Some((name, mac)) = value.split_once(':') else {
            return Err(err("expected ifname=<name>:<aa:bb:cc:dd:ee:ff>".into()));
        };
        check_iface(name).map_err(err)?;
        let mac = Mac::parse(mac).ok_or_else(|| err(format!("`{mac}` is not a MAC address")))?;
        Ok(Self {
            name: name.to_owned(),
            mac,
        })
    }
}

/// The interface names the kernel accepts (`dev_valid_name`).
pub(super) fn check_iface(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
    if bad {
        return Err(format!(
            "`{name}` is not an interface name (1 to 15 bytes, no `/`, `:` or spaces)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: Mac = Mac([0x52, 0x54, 0x00, 0x12, 0x34, 0xab]);

    #[test]
    fn mac_forms() {
        assert_eq!(Mac::parse("52:54:00:12:34:ab"), Some(MAC));
        assert_eq!(Mac::parse("52-54-00-12-34-AB"), Some(MAC));
        assert_eq!(MAC.to_string(), "52:54:00:12:34:ab");
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:ab:cd",
            "52:54:00:12:34:+a",
            "5:54:00:12:34:ab",
            "52:54-00:12:34:ab",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bootif() {
        assert_eq!(Mac::parse_bootif("01-52-54-00-12-34-ab"), Ok(MAC));
        assert_eq!(Mac::parse_bootif("52:54:00:12:34:AB"), Ok(MAC));
        assert_eq!(Mac::parse_bootif("52-54-00-12-34-ab"), Ok(MAC));
        let err = Mac::parse_bootif("20-52-54-00-12-34-ab").unwrap_err();
        assert_eq!(
            err.to_string(),
            "BOOTIF=20-52-54-00-12-34-ab: hardware type 20 is not Ethernet (01)"
        );
        let err = Mac::parse_bootif("01-52-54-00").unwrap_err();
        assert_eq!(
            err.to_string(),
            "BOOTIF=01-52-54-00: expected 01-aa-bb-cc-dd-ee-ff (PXE/iPXE) or aa:bb:cc:dd:ee:ff"
        );
    }

    #[test]
    fn ifname() {
        let parsed = IfName::parse("lan0:52:54:00:12:34:ab").unwrap();
        assert_eq!(
            parsed,
            IfName {
                name: "lan0".into(),
                mac: MAC
            }
        );
        let err = IfName::parse("lan0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ifname=lan0: expected ifname=<name>:<aa:bb:cc:dd:ee:ff>"
        );
        let err = IfName::parse("lan0:52:54").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ifname=lan0:52:54: `52:54` is not a MAC address"
        );
        let err = IfName::parse("a-very-long-name0:52:54:00:12:34:ab").unwrap_err();
        assert!(err.reason.contains("is not an interface name"), "{err}");
    }

    #[test]
    fn interface_names() {
        for good in ["eth0", "enp0s3", "a", "wlan.100", "fifteen-chars15"] {
            assert_eq!(check_iface(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-chars-16"] {
            assert!(check_iface(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn mac_round_trips(bytes in any::<[u8; 6]>(), upper in any::<bool>()) {
            let mac = Mac(bytes);
            let text = mac.to_string();
            let text = if upper { text.to_uppercase() } else { text };
            prop_assert_eq!(Mac::parse(&text), Some(mac));
            prop_assert_eq!(Mac::parse_bootif(&format!("01-{}", text.replace(':', "-"))), Ok(mac));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}", t in "[0-9a-fA-F:-]{0,24}") {
            for s in [&s, &t] {
                let _ = Mac::parse(s);
                let _ = Mac::parse_bootif(s);
                let _ = IfName::parse(s);
            }
        }
    }
}
