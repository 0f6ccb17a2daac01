//! One test per setup-etc rule, on temporary trees.

use super::*;
use crate::testutil::TempDir;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

/// A fake store, source generations and a target `etc` in one temp dir.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new(tag: &str) -> Self {
        let f = Fixture {
            dir: TempDir::new(tag),
        };
        fs::create_dir_all(f.store()).unwrap();
        f
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// `gen/etc`, created empty.
    fn generation(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name).join("etc");
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// A store file with `content`, and `src/rel` a symlink to it (the NixOS shape).
    fn add(&self, src: &Path, rel: &str, content: &str) -> PathBuf {
        let stored = self.store().join(rel.replace('/', "-"));
        fs::write(&stored, content).unwrap();
        let at = src.join(rel);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&at);
        symlink(&stored, &at).unwrap();
        stored
    }

    /// A plain sidecar file `src/rel<suffix>` (NixOS writes them as regular files).
    fn sidecar(src: &Path, rel: &str, suffix: &str, content: &str) {
        fs::write(src.join(format!("{rel}{suffix}")), content).unwrap();
    }

    fn run(&self, src: &Path) -> EtcReport {
        setup_etc(src, &self.etc()).unwrap()
    }

    fn clean(&self) -> String {
        fs::read_to_string(self.etc().join(".clean")).unwrap()
    }
}

fn link_of(p: &Path) -> PathBuf {
    fs::read_link(p).unwrap_or_else(|e| panic!("{} is not a link: {e}", p.display()))
}

/// Whether the chown assertions of `test` can run (as root). If not, says
/// `SKIPPING <test>: <why>`, or panics under CI (`CI=true`) and `make test`
/// (`VM_TESTS_REQUIRED=1`), as the `tests` crate's `require` does.
fn root_for(test: &str, why: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    let ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
        || matches!(std::env::var("VM_TESTS_REQUIRED").as_deref(), Ok("1"));
    assert!(
        root || !ci,
        "{test} cannot run: {why} (CI=true or VM_TESTS_REQUIRED=1: not skipped)"
    );
    if !root {
        eprintln!("SKIPPING {test}: {why}");
    }
    root
}

#[test]
fn every_file_becomes_a_link_through_static_with_real_parent_dirs() {
    let f = Fixture::new("links");
    let g = f.generation("g1");
    f.add(&g, "hosts", "127.0.0.1 localhost\n");
    f.add(&g, "service/sshd/run", "#!/bin/sh\n");
    f.add(&g, "service/sshd/log/run", "#!/bin/sh\n");
    let r = f.run(&g);
    assert_eq!((r.linked, r.copied, r.removed), (3, 0, 0));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let etc = f.etc();
    assert_eq!(link_of(&etc.join("static")), g);
    assert_eq!(link_of(&etc.join("hosts")), etc.join("static/hosts"));
    assert_eq!(
        fs::read_to_string(etc.join("hosts")).unwrap(),
        "127.0.0.1 localhost\n"
    );
    assert_eq!(
        link_of(&etc.join("service/sshd/run")),
        etc.join("static/service/sshd/run")
    );
    for dir in ["service", "service/sshd", "service/sshd/log"] {
        let m = fs::symlink_metadata(etc.join(dir)).unwrap();
        assert!(
            m.is_dir() && !m.file_type().is_symlink(),
            "{dir} is not a real directory"
        );
    }
    // supervise/ can live next to the linked run file.
    fs::create_dir(etc.join("service/sshd/supervise")).unwrap();
    assert!(etc.join("NIXOS").is_file());
    assert_eq!(f.clean(), "");
}

#[test]
fn static_is_switched_atomically_to_the_resolved_source() {
    let f = Fixture::new("static");
    let g1 = f.generation("g1");
    let g2 = f.generation("g2");
    f.add(&g1, "a", "1");
    f.add(&g2, "a", "2");
    // The toplevel's etc is itself a link to the etc tree (as in the store).
    let top = f.dir.path().join("top");
    fs::create_dir(&top).unwrap();
    symlink(&g2, top.join("etc")).unwrap();
    f.run(&g1);
    assert_eq!(link_of(&f.etc().join("static")), g1);
    f.run(&top.join("etc"));
    assert_eq!(
        link_of(&f.etc().join("static")),
        g2,
        "static must name the resolved tree"
    );
    assert_eq!(fs::read_to_string(f.etc().join("a")).unwrap(), "2");
    assert!(fsutil::lstat(&f.etc().join(".static.tmp"))
        .unwrap()
        .is_none());
    // A real directory in the way of /etc/static is an error, not a silent merge.
    let g3 = f.generation("g3");
    let other = f.dir.path().join("etc2");
    fs::create_dir_all(other.join("static")).unwrap();
    assert!(setup_etc(&g3, &other).is_err());
}

#[test]
fn mode_sidecar_means_copy_with_that_mode_tracked_in_clean() {
    let f = Fixture::new("mode");
    let g = f.generation("g1");
    f.add(&g, "ssh/ssh_host_key", "secret");
    Fixture::sidecar(&g.join("ssh"), "ssh_host_key", ".mode", "0600\n");
    Fixture::sidecar(&g.join("ssh"), "ssh_host_key", ".uid", "+0");
    Fixture::sidecar(&g.join("ssh"), "ssh_host_key", ".gid", "+0");
    let r = f.run(&g);
    assert_eq!((r.linked, r.copied), (0, 1));
    let why = format!("chown to root needs root; warnings: {:?}", r.warnings);
    if root_for(
        "mode_sidecar_means_copy_with_that_mode_tracked_in_clean",
        &why,
    ) {
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
    let key = f.etc().join("ssh/ssh_host_key");
    let m = fs::symlink_metadata(&key).unwrap();
    assert!(m.is_file(), "a copy, not a link");
    assert_eq!(m.permissions().mode() & 0o7777, 0o600);
    assert_eq!(fs::read_to_string(&key).unwrap(), "secret");
    // Sidecars are not linked into /etc.
    for s in ["mode", "uid", "gid"] {
        assert!(
            fsutil::lstat(&f.etc().join(format!("ssh/ssh_host_key.{s}")))
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(f.clean(), "ssh/ssh_host_key\n");
    // A bad mode is a warning, not an error.
    let g2 = f.generation("g2");
    f.add(&g2, "x", "x");
    Fixture::sidecar(&g2, "x", ".mode", "rw-r--r--");
    let r = f.run(&g2);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
}

#[test]
fn direct_symlink_links_straight_to_the_store() {
    let f = Fixture::new("direct");
    let g = f.generation("g1");
    let stored = f.add(&g, "resolv.conf", "nameserver 10.0.2.3\n");
    Fixture::sidecar(&g, "resolv.conf", ".mode", "direct-symlink\n");
    let r = f.run(&g);
    assert_eq!((r.linked, r.copied), (1, 0));
    assert_eq!(link_of(&f.etc().join("resolv.conf")), stored);
    assert_eq!(
        f.clean(),
        "resolv.conf\n",
        "direct links are tracked like copies"
    );
    // Gone in the next generation: removed through .clean.
    let g2 = f.generation("g2");
    let r = f.run(&g2);
    assert_eq!(r.removed, 1);
    assert!(fsutil::lstat(&f.etc().join("resolv.conf"))
        .unwrap()
        .is_none());
}

#[test]
fn uid_and_gid_by_number_and_by_name_from_the_new_tree() {
    let f = Fixture::new("owner");
    let g = f.generation("g1");
    f.add(
        &g,
        "passwd",
        "root:x:0:0::/root:/bin/sh\nalice:x:1234:100::/home/alice:/bin/sh\n",
    );
    f.add(&g, "group", "root:x:0:\nstaff:x:2345:alice\n");
    f.add(&g, "by-name", "n");
    Fixture::sidecar(&g, "by-name", ".mode", "0640");
    Fixture::sidecar(&g, "by-name", ".uid", "alice");
    Fixture::sidecar(&g, "by-name", ".gid", "staff");
    f.add(&g, "by-number", "n");
    Fixture::sidecar(&g, "by-number", ".mode", "0644");
    Fixture::sidecar(&g, "by-number", ".uid", "+77");
    Fixture::sidecar(&g, "by-number", ".gid", "+88");
    f.add(&g, "unknown", "n");
    Fixture::sidecar(&g, "unknown", ".mode", "0644");
    Fixture::sidecar(&g, "unknown", ".uid", "nobody-here");
    Fixture::sidecar(&g, "unknown", ".gid", "+0");
    let r = f.run(&g);
    assert_eq!(r.copied, 3);
    assert!(
        r.warnings.iter().any(|w| w.contains("nobody-here")),
        "{:?}",
        r.warnings
    );
    let why = "chown assertions need root (uid/gid lookups ran, ownership unchecked)";
    if !root_for("uid_and_gid_by_number_and_by_name_from_the_new_tree", why) {
        return;
    }
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    let m = fs::metadata(f.etc().join("by-name")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 2345));
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    let m = fs::metadata(f.etc().join("by-number")).unwrap();
    assert_eq!((m.uid(), m.gid()), (77, 88));
    let m = fs::metadata(f.etc().join("unknown")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
}

#[test]
fn stale_links_into_static_are_removed_and_user_files_kept() {
    let f = Fixture::new("stale");
    let g1 = f.generation("g1");
    f.add(&g1, "keep", "k");
    f.add(&g1, "gone", "g");
    f.add(&g1, "service/old/run", "r");
    f.run(&g1);
    let etc = f.etc();
    fs::write(etc.join("user-file"), "mine").unwrap();
    symlink("/somewhere/else", etc.join("user-link")).unwrap();
    // A nixos/ subtree is never searched (as in NixOS).
    fs::create_dir(etc.join("nixos")).unwrap();
    symlink(etc.join("static/nixos-thing"), etc.join("nixos/x")).unwrap();
    let g2 = f.generation("g2");
    f.add(&g2, "keep", "k2");
    let r = f.run(&g2);
    assert_eq!(r.removed, 2, "gone and service/old/run");
    assert!(fsutil::lstat(&etc.join("gone")).unwrap().is_none());
    assert!(fsutil::lstat(&etc.join("service/old/run"))
        .unwrap()
        .is_none());
    assert_eq!(fs::read_to_string(etc.join("keep")).unwrap(), "k2");
    assert_eq!(fs::read_to_string(etc.join("user-file")).unwrap(), "mine");
    assert_eq!(
        link_of(&etc.join("user-link")),
        Path::new("/somewhere/else")
    );
    assert!(fsutil::lstat(&etc.join("nixos/x")).unwrap().is_some());
}

#[test]
fn clean_removes_copies_the_new_tree_no_longer_has() {
    let f = Fixture::new("clean");
    let g1 = f.generation("g1");
    f.add(&g1, "copied-gone", "1");
    Fixture::sidecar(&g1, "copied-gone", ".mode", "0644");
    f.add(&g1, "copied-now-linked", "2");
    Fixture::sidecar(&g1, "copied-now-linked", ".mode", "0644");
    f.add(&g1, "copied-kept", "3");
    Fixture::sidecar(&g1, "copied-kept", ".mode", "0600");
    f.run(&g1);
    assert_eq!(f.clean(), "copied-gone\ncopied-kept\ncopied-now-linked\n");
    let g2 = f.generation("g2");
    f.add(&g2, "copied-now-linked", "2b");
    f.add(&g2, "copied-kept", "3b");
    Fixture::sidecar(&g2, "copied-kept", ".mode", "0600");
    // An unsafe line in .clean is ignored, never followed out of /etc.
    let mut clean = f.clean();
    clean.push_str("../outside\n/abs\n");
    fs::write(f.etc().join(".clean"), clean).unwrap();
    fs::write(f.dir.path().join("outside"), "x").unwrap();
    let r = f.run(&g2);
    assert_eq!(r.removed, 1);
    let etc = f.etc();
    assert!(fsutil::lstat(&etc.join("copied-gone")).unwrap().is_none());
    assert_eq!(
        link_of(&etc.join("copied-now-linked")),
        etc.join("static/copied-now-linked")
    );
    assert_eq!(fs::read_to_string(etc.join("copied-kept")).unwrap(), "3b");
    assert!(f.dir.path().join("outside").exists());
    assert_eq!(f.clean(), "copied-kept\n");
}

#[test]
fn directory_symlinks_are_linked_whole_and_swap_with_real_dirs() {
    let f = Fixture::new("dirs");
    // A symlink to a directory in the source is linked as one entry (File::Find does not
    // follow symlinks in setup-etc.pl).
    let stored_dir = f.store().join("ssl-certs");
    fs::create_dir(&stored_dir).unwrap();
    fs::write(stored_dir.join("ca.pem"), "pem").unwrap();
    let g1 = f.generation("g1");
    fs::create_dir(g1.join("ssl")).unwrap();
    symlink(&stored_dir, g1.join("ssl/certs")).unwrap();
    f.run(&g1);
    let etc = f.etc();
    assert_eq!(
        link_of(&etc.join("ssl/certs")),
        etc.join("static/ssl/certs")
    );
    assert_eq!(
        fs::read_to_string(etc.join("ssl/certs/ca.pem")).unwrap(),
        "pem"
    );
    // Next generation: ssl/certs is a real directory of links: the old link gives way.
    let g2 = f.generation("g2");
    f.add(&g2, "ssl/certs/ca.pem", "pem2");
    let r = f.run(&g2);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(!fs::symlink_metadata(etc.join("ssl/certs"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(etc.join("ssl/certs/ca.pem")).unwrap(),
        "pem2"
    );
    // And back: a directory holding only static links is replaced by the link...
    f.run(&g1);
    assert_eq!(
        link_of(&etc.join("ssl/certs")),
        etc.join("static/ssl/certs")
    );
    // ...but one holding a user's file is kept, with a warning.
    f.run(&g2);
    fs::write(etc.join("ssl/certs/local.pem"), "mine").unwrap();
    let r = f.run(&g1);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert_eq!(
        fs::read_to_string(etc.join("ssl/certs/local.pem")).unwrap(),
        "mine"
    );
}

#[test]
fn regular_files_are_linked_and_lone_sidecar_names_are_ordinary() {
    let f = Fixture::new("plain");
    let g = f.generation("g1");
    fs::write(g.join("motd"), "hello").unwrap();
    fs::write(g.join("weird.mode"), "not a sidecar: no `weird` next to it").unwrap();
    let r = f.run(&g);
    assert_eq!(r.linked, 2);
    assert_eq!(fs::read_to_string(f.etc().join("motd")).unwrap(), "hello");
    assert_eq!(
        link_of(&f.etc().join("weird.mode")),
        f.etc().join("static/weird.mode")
    );
}

#[test]
fn rerun_is_stable_and_missing_source_is_an_error() {
    let f = Fixture::new("rerun");
    let g = f.generation("g1");
    f.add(&g, "a", "1");
    f.add(&g, "b", "2");
    Fixture::sidecar(&g, "b", ".mode", "0644");
    let first = f.run(&g);
    let second = f.run(&g);
    assert_eq!(first, second);
    assert_eq!(second.removed, 0);
    assert!(setup_etc(&f.dir.path().join("nope/etc"), &f.etc()).is_err());
}

#[test]
fn reserved_names_in_the_tree_are_skipped() {
    let f = Fixture::new("reserved");
    let g = f.generation("g1");
    f.add(&g, "static", "no");
    f.add(&g, ".clean", "no");
    f.add(&g, "NIXOS", "");
    f.add(&g, "sub/static", "fine below the top");
    let r = f.run(&g);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert_eq!(link_of(&f.etc().join("static")), g);
    assert_eq!(f.clean(), "");
    assert_eq!(
        link_of(&f.etc().join("NIXOS")),
        f.etc().join("static/NIXOS")
    );
    assert_eq!(
        link_of(&f.etc().join("sub/static")),
        f.etc().join("static/sub/static")
    );
}

#[test]
fn dangling_symlink_is_one_warning_naming_it_and_still_linked() {
    let f = Fixture::new("dangling");
    let g = f.generation("g1");
    f.add(&g, "fine", "here");
    symlink("/nonexistent/target", g.join("dangling")).unwrap();
    let r = f.run(&g);
    let entry = f.etc().join("dangling");
    assert_eq!(
        r.warnings,
        vec![format!(
            "{}: dangling symlink: its target /nonexistent/target does not exist; linked anyway",
            entry.display()
        )]
    );
    assert_eq!(r.linked, 2);
    assert_eq!(link_of(&entry), f.etc().join("static/dangling"));
}

#[test]
fn garbage_mode_is_one_warning_naming_the_entry_and_its_sidecar() {
    let f = Fixture::new("garbage-mode");
    let g = f.generation("g1");
    f.add(&g, "a", "a");
    Fixture::sidecar(&g, "a", ".mode", "rw-r-----\n");
    // Octal, but more than the permission bits: no mode either.
    f.add(&g, "b", "b");
    Fixture::sidecar(&g, "b", ".mode", "1000000");
    let r = f.run(&g);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert_eq!(
        r.warnings[0],
        format!(
            "{}: bad mode \"rw-r-----\" in {} (want an octal mode such as 0644, or direct-symlink); not copied",
            f.etc().join("a").display(),
            g.join("a.mode").display()
        )
    );
    assert!(
        r.warnings[1].contains("bad mode \"1000000\""),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.copied, 0);
    for e in ["a", "b"] {
        assert!(fsutil::lstat(&f.etc().join(e)).unwrap().is_none());
    }
}
