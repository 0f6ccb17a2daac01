//! `root=` and `realroot=`: what they name, and whether it can ever be found.
use std::path::{Path, PathBuf};

use super::check::hex_groups;
#[cfg(feature = "net")]
use net::http::{FetchError, Url};

/// A filesystem UUID or GPT partition GUID as blkid prints it.
const UUID: &[usize] = &[8, 4, 4, 4, 12];
/// An MBR PARTUUID: the disk signature and the partition number.
const MBR_PARTUUID: &[usize] = &[8, 2];

/// What `root=` / `realroot=` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSpec {
    /// A device path; a bare name (`vda`) becomes `/dev/vda`.
    Path(PathBuf),
    /// `LABEL=x`.
    Label(String),
    /// `UUID=x`.
    Uuid(String),
    /// `PARTUUID=x`: found in the GPT/MBR partition tables.
    PartUuid(String),
    /// `PARTLABEL=x`: a GPT partition name.
    PartLabel(String),
    /// `http://host[:port]/path` (`https://` is parsed, and refused by
    /// [`Self::check`]): a store image to download into RAM.
    Url(String),
    /// `virtiofs:TAG`, `virtfs:TAG` or `9p:TAG` (dracut's spellings, and
    /// the obvious one): the store shared by the host under `TAG`, as
    /// `nixos-rebuild build-vm` shares its store (tag `nix-store`).
    Share(ShareFs, String),
}

/// The transport of a host share ([`RootSpec::Share`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareFs {
    /// 9p over virtio (QEMU's `-virtfs`).
    NineP,
    /// virtiofs (QEMU's `vhost-user-fs-pci` and a virtiofsd).
    Virtiofs,
}

impl ShareFs {
    /// The filesystem type mount(2) takes, which is also its module.
    pub fn fstype(self) -> &'static str {
        match self {
            Self::NineP => "9p",
            Self::Virtiofs => "virtiofs",
        }
    }
}

impl RootSpec {
    /// Parses a `root=` value; `None` for the empty string.
    pub fn parse(value: &str) -> Option<Self> {
        if value.is_empty() {
            return None;
        }
        let prefixed = |prefix: &str| -> Option<String> {
            let head = value.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| value[prefix.len()..].to_owned())
        };
        if let Some(v) = prefixed("PARTUUID=") {
            return Some(Self::PartUuid(v));
        }
        if let Some(v) = prefixed("PARTLABEL=") {
            return Some(Self::PartLabel(v));
        }
        if let Some(v) = prefixed("UUID=") {
            return Some(Self::Uuid(v));
        }
        if let Some(v) = prefixed("LABEL=") {
            return Some(Self::Label(v));
        }
        for (prefix, fs) in [
            ("virtiofs:", ShareFs::Virtiofs),
            ("virtfs:", ShareFs::NineP),
            ("9p:", ShareFs::NineP),
        ] {
            if let Some(tag) = prefixed(prefix) {
                return Some(Self::Share(fs, tag));
            }
        }
        if prefixed("http://").is_some() || prefixed("https://").is_some() {
            return Some(Self::Url(value.to_owned()));
        }
        if value.contains('/') {
            Some(Self::Path(PathBuf::from(value)))
        } else {
            Some(Self::Path(Path::new("/dev").join(value)))
        }
    }

    /// Why this spec can never name anything, saying what would: a
    /// `UUID=` no blkid prints, an empty `LABEL=`, a URL with no host, a
    /// URL where only a disk will do (`disk`: `realroot=`). Whether a
    /// well-formed one is there is for the device wait to see.
    pub fn check(&self, disk: bool) -> Result<(), String> {
        let why = match self {
            Self::Label(l) | Self::PartLabel(l) if l.is_empty() => "no label after the =",
            Self::Uuid(u) if !hex_groups(u, UUID) => {
                "not a UUID: 8-4-4-4-12 hex digits, as blkid prints it"
            }
            Self::PartUuid(u) if !hex_groups(u, UUID) && !hex_groups(u, MBR_PARTUUID) => {
                "not a PARTUUID: 8-4-4-4-12 hex digits (GPT) or 1234abcd-01 (MBR), as blkid \
                 prints it"
            }
            Self::Share(_, t) if t.is_empty() => {
                "no share tag after the colon (NixOS shares its store as nix-store)"
            }
            Self::Url(_) | Self::Share(..) if disk => {
                "not a disk (a /dev path, LABEL=, UUID=, PARTUUID=, PARTLABEL=)"
            }
            Self::Url(u)
                if u.as_bytes()
                    .get(4)
                    .is_some_and(|c| c.eq_ignore_ascii_case(&b's')) =>
            {
                "no TLS in the initrd: serve the image over http:// and pin it with sha256=<hex>"
            }
            #[cfg(feature = "net")]
            Self::Url(u) => {
                return Url::parse(u).map(drop).map_err(|e| {
                    let mut why = match e {
                        FetchError::BadUrl { why, .. } => why,
                        e => e.to_string(),
                    };
                    why.push_str("; expected http://host[:port]/path");
                    why
                });
            }
            _ => return Ok(()),
        };
        Err(why.into())
    }

    /// The device node udev would create for this spec
    /// (`/dev/disk/by-label/x`, …), or the path itself.
    pub fn device_path(&self) -> PathBuf {
        match self {
            Self::Path(p) => p.clone(),
            Self::Label(l) => Path::new("/dev/disk/by-label").join(l),
            Self::Uuid(u) => Path::new("/dev/disk/by-uuid").join(u),
            Self::PartUuid(u) => Path::new("/dev/disk/by-partuuid").join(u),
            Self::PartLabel(l) => Path::new("/dev/disk/by-partlabel").join(l),
            Self::Url(u) | Self::Share(_, u) => PathBuf::from(u),
        }
    }
}

impl std::fmt::Display for RootSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{}", p.display()),
            Self::Label(l) => write!(f, "LABEL={l}"),
            Self::Uuid(u) => write!(f, "UUID={u}"),
            Self::PartUuid(u) => write!(f, "PARTUUID={u}"),
            Self::PartLabel(l) => write!(f, "PARTLABEL={l}"),
            Self::Url(u) => f.write_str(u),
            Self::Share(fs, t) => write!(f, "{}:{t}", fs.fstype()),
        }
    }
}
