//! `[:]user[:group…]` resolved in /etc/passwd and /etc/group read as plain
//! files: the binary is static, so there is no NSS (musl's getpwnam would
//! read the same files, but not the way runit's messages need).
use super::common::number;

/// runit looks at no more than this many groups.
const MAX_GROUPS: usize = 60;

/// Who to become: the uid, and the gids (the first is the primary group;
/// all of them are the supplementary groups).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ids {
    pub uid: u32,
    pub gids: Vec<u32>,
}

/// Why a name did not resolve.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// `:uid:gid…` that is not numbers.
    Invalid,
    /// A user or group not in the files.
    Unknown,
}

/// Resolve `spec`: with `ext` (chpst's `-u`/`-U`) `user[:group[:group…]]`
/// or `:uid:gid[:gid…]`; without it (`setuidgid`, `envuidgid`) a user
/// name only. Without a group the passwd gid is the only group (no
/// initgroups, as runit); with groups only the listed ones.
pub(crate) fn resolve(spec: &[u8], ext: bool, passwd: &[u8], group: &[u8]) -> Result<Ids, Bad> {
    if ext {
        if let Some(n) = spec.strip_prefix(b":") {
            return numeric(n).ok_or(Bad::Invalid);
        }
    }
    let (user, groups) = match spec.iter().position(|&b| b == b':') {
        Some(i) if ext => (&spec[..i], Some(&spec[i + 1..])),
        _ => (spec, None),
    };
    let [uid, gid] = find(passwd, user, 2).ok_or(Bad::Unknown)?;
    let Some(groups) = groups else {
        return Ok(Ids {
            uid,
            gids: vec![gid],
        });
    };
    let mut gids = Vec::new();
    for name in groups.split(|&b| b == b':').take(MAX_GROUPS) {
        gids.push(find(group, name, 1).ok_or(Bad::Unknown)?[0]);
    }
    Ok(Ids { uid, gids })
}

/// `uid:gid[:gid…]` as runit's uidgids_set reads it: an empty number is 0,
/// a trailing `:` adds gid 0, at most 60 gids (a `:` after the 60th is
/// allowed).
fn numeric(s: &[u8]) -> Option<Ids> {
    let mut parts = s.split(|&b| b == b':');
    let uid = number(parts.next()?)? as u32;
    let mut gids = Vec::new();
    for p in parts {
        gids.push(number(p)? as u32);
    }
    if gids.len() == MAX_GROUPS + 1 && s.ends_with(b":") {
        gids.pop();
    }
    (!gids.is_empty() && gids.len() <= MAX_GROUPS).then_some(Ids { uid, gids })
}

/// The first `n` ids (uid and gid of passwd, gid of group) of the first
/// line of `db` named `name` whose ids are numbers.
fn find(db: &[u8], name: &[u8], n: usize) -> Option<[u32; 2]> {
    db.split(|&b| b == b'\n').find_map(|line| {
        let mut f = line.split(|&b| b == b':').skip(2);
        if !line.starts_with(name) || line.get(name.len()) != Some(&b':') {
            return None;
        }
        let mut ids = [0; 2];
        for id in &mut ids[..n] {
            let s = f.next()?;
            *id = number(s).filter(|_| !s.is_empty())? as u32;
        }
        Some(ids)
    })
}
