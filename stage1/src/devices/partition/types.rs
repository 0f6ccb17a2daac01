//! What a partition table holds and what `root=` asks for: shared by the
//! GPT and MBR readers and by the sysfs matching, so it sits in a leaf.

/// One partition as its table describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionEntry {
    /// The kernel's number: the GPT slot (1-based); MBR 1-4 primary, 5+ logical.
    pub number: u32,
    /// PARTUUID: the GPT unique GUID in lowercase, or MBR `%08x-%02x`
    /// (disk signature, number) as the kernel forms it.
    pub uuid: String,
    /// PARTLABEL: the GPT name; `None` when empty and for MBR.
    pub label: Option<String>,
}

/// A disk's partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Table {
    Gpt(Vec<PartitionEntry>),
    Mbr(Vec<PartitionEntry>),
}

impl Table {
    pub fn entries(&self) -> &[PartitionEntry] {
        match self {
            Self::Gpt(e) | Self::Mbr(e) => e,
        }
    }
}

/// What `root=` asks for. PARTUUID compares case-insensitively, PARTLABEL exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    PartUuid(String),
    PartLabel(String),
}

impl Key {
    pub(super) fn matches(&self, e: &PartitionEntry) -> bool {
        match self {
            Self::PartUuid(u) => e.uuid.eq_ignore_ascii_case(u),
            Self::PartLabel(l) => e.label.as_deref() == Some(l.as_str()),
        }
    }
}
