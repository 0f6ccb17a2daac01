use super::*;
use proptest::prelude::*;

fn p(s: &str) -> BootParams {
    BootParams::parse(s)
}

fn pair(name: &str, val: Option<&str>) -> (String, Option<String>) {
    (name.to_owned(), val.map(str::to_owned))
}

#[test]
fn network_parameters() {
    let b = BootParams::parse(
        "ip=eth0:dhcp ip=eth1:dhcp BOOTIF=01-52-54-00-12-34-56 ifname=lan:52:54:00:12:34:56 sha256=AB12",
    );
    assert_eq!(b.ip, ["eth0:dhcp", "eth1:dhcp"]);
    assert_eq!(b.bootif.as_deref(), Some("01-52-54-00-12-34-56"));
    assert_eq!(b.ifname, ["lan:52:54:00:12:34:56"]);
    assert_eq!(b.sha256.as_deref(), Some("AB12"));
    assert!(b.unknown.is_empty(), "{:?}", b.unknown);
    let b = BootParams::parse("ip=");
    assert!(b.ip.is_empty());
    assert_eq!(b.warnings().len(), 1);
}

#[test]
fn split_follows_kernel_quoting() {
    let (params, init) = split("  a b=1 c=\"x y\" \"d=e f\" g=h\"i j\" \"k l\" m=\"\" n= \t\n");
    assert_eq!(
        params,
        vec![
            pair("a", None),
            pair("b", Some("1")),
            pair("c", Some("x y")),
            pair("d", Some("e f")),
            pair("g", Some("h\"i j\"")),
            pair("k l", None),
            pair("m", Some("")),
            pair("n", Some("")),
        ]
    );
    assert!(init.is_empty());
}

#[test]
fn split_unbalanced_quote_runs_to_the_end() {
    let (params, _) = split("a=\"b c d");
    assert_eq!(params, vec![pair("a", Some("b c d"))]);
    let (params, _) = split("\"");
    assert_eq!(params, vec![pair("", None)]);
}

#[test]
fn real_not_os_cmdline() {
    let b = p("console=ttyS0 systemConfig=/nix/store/abc-not-os quiet panic=-1\n");
    assert_eq!(b.console.as_deref(), Some("ttyS0"));
    assert_eq!(b.toplevel, Some(PathBuf::from("/nix/store/abc-not-os")));
    assert!(b.quiet);
    assert_eq!(b.unknown, vec![pair("panic", Some("-1"))]);
    assert!(b.warnings().is_empty());
    assert!(b.module_params.is_empty());
}

#[test]
fn nixos_cmdline() {
    let b = p(
        "BOOT_IMAGE=(hd0,gpt2)/kernel init=/nix/store/xyz-nixos-system-foo/init \
         root=LABEL=nixos loglevel=4 boot.shell_on_fail",
    );
    assert_eq!(
        b.init,
        Some(PathBuf::from("/nix/store/xyz-nixos-system-foo/init"))
    );
    assert_eq!(
        b.toplevel,
        Some(PathBuf::from("/nix/store/xyz-nixos-system-foo"))
    );
    assert_eq!(b.root, Some(RootSpec::Label("nixos".into())));
    assert_eq!(b.loglevel, Some(4));
    assert!(b.shell_on_fail);
    assert_eq!(
        b.unknown,
        vec![pair("BOOT_IMAGE", Some("(hd0,gpt2)/kernel"))]
    );
}

#[test]
fn toplevel_precedence() {
    // explicit beats init-derived, whatever the order
    let b = p("toplevel=/a init=/b/init");
    assert_eq!(b.toplevel, Some(PathBuf::from("/a")));
    assert_eq!(b.init, Some(PathBuf::from("/b/init")));
    let b = p("init=/b/init systemConfig=/c toplevel=/a");
    assert_eq!(b.toplevel, Some(PathBuf::from("/a")));
    let b = p("toplevel=/a systemConfig=/c");
    assert_eq!(b.toplevel, Some(PathBuf::from("/c")));
    // last init= wins
    let b = p("init=/b/init init=/d/init");
    assert_eq!(b.toplevel, Some(PathBuf::from("/d")));
    // init= not named init: no toplevel
    let b = p("init=/bin/sh");
    assert_eq!(b.toplevel, None);
    assert_eq!(b.init, Some(PathBuf::from("/bin/sh")));
    let b = p("init=/init");
    assert_eq!(b.toplevel, Some(PathBuf::from("/")));
    let b = p("init=init");
    assert_eq!(b.toplevel, None);
    // explicit empty unsets, and still beats init=
    let b = p("init=/b/init toplevel=");
    assert_eq!(b.toplevel, None);
    assert_eq!(b.warnings().len(), 1);
}

#[test]
fn last_repeat_wins_and_empty_unsets() {
    let b = p("root=/dev/vda root=/dev/vdb console=tty0 console=ttyS0,115200n8");
    assert_eq!(b.root, Some(RootSpec::Path("/dev/vdb".into())));
    assert_eq!(b.console.as_deref(), Some("ttyS0,115200n8"));
    assert_eq!(b.console_device().as_deref(), Some("ttyS0"));
    let b = p("root=/dev/vda root=");
    assert_eq!(b.root, None);
    assert_eq!(b.warnings(), ["root=: empty value, unset"]);
    let b = p("root");
    assert_eq!(b.root, None);
    assert_eq!(b.warnings().len(), 1);
}

#[test]
fn root_specs() {
    assert_eq!(RootSpec::parse(""), None);
    assert_eq!(
        RootSpec::parse("vda"),
        Some(RootSpec::Path("/dev/vda".into()))
    );
    assert_eq!(
        RootSpec::parse("/dev/sda1"),
        Some(RootSpec::Path("/dev/sda1".into()))
    );
    assert_eq!(
        RootSpec::parse("UUID=12-34"),
        Some(RootSpec::Uuid("12-34".into()))
    );
    assert_eq!(
        RootSpec::parse("uuid=ab"),
        Some(RootSpec::Uuid("ab".into()))
    );
    assert_eq!(
        RootSpec::parse("PARTUUID=ab-01"),
        Some(RootSpec::PartUuid("ab-01".into()))
    );
    assert_eq!(
        RootSpec::parse("PARTLABEL=nixstore"),
        Some(RootSpec::PartLabel("nixstore".into()))
    );
    assert_eq!(
        RootSpec::parse("http://10.0.2.100/nix-store.squashfs"),
        Some(RootSpec::Url("http://10.0.2.100/nix-store.squashfs".into()))
    );
    assert_eq!(
        RootSpec::parse("HTTPS://h/x"),
        Some(RootSpec::Url("HTTPS://h/x".into()))
    );
    assert_eq!(
        RootSpec::parse("LABEL=my root"),
        Some(RootSpec::Label("my root".into()))
    );
    let b = p("root=\"LABEL=my root\" realroot=/dev/vdb rootfstype=ext4 rootflags=ro,noatime");
    assert_eq!(b.root, Some(RootSpec::Label("my root".into())));
    assert_eq!(b.realroot, Some(RootSpec::Path("/dev/vdb".into())));
    assert_eq!(b.rootfstype.as_deref(), Some("ext4"));
    assert_eq!(b.rootflags.as_deref(), Some("ro,noatime"));
    assert_eq!(
        RootSpec::Label("x".into()).device_path(),
        PathBuf::from("/dev/disk/by-label/x")
    );
    for s in [
        "/dev/vda",
        "LABEL=a",
        "UUID=b",
        "PARTUUID=c",
        "PARTLABEL=d",
        "http://h:8080/p",
    ] {
        assert_eq!(RootSpec::parse(s).unwrap().to_string(), s);
    }
}

#[test]
fn flags_and_aliases() {
    let b = p("boot.debug1 boot.debug1devices boot.debug1mounts boot.trace copytoram");
    assert!(b.debug1 && b.debug1devices && b.debug1mounts && b.trace && b.copytoram);
    assert!(p("debug1").debug1);
    assert!(p("debugtrace").trace);
    assert!(!p("boot.trace debugtrace=0").trace);
    assert!(p("boot.panic_on_fail").panic_on_fail);
    assert!(p("stage1panic=1").panic_on_fail);
    assert!(!p("stage1panic=0").panic_on_fail);
    assert!(!p("stage1panic=yes").panic_on_fail);
    assert!(!p("stage1panic").panic_on_fail);
    assert!(!p("boot.panic_on_fail stage1panic=0").panic_on_fail);
    assert!(p("boot.shell-on-fail").shell_on_fail);
    assert!(!p("quiet quiet=off").quiet);
    let b = p("quiet=maybe");
    assert!(!b.quiet);
    assert_eq!(b.warnings().len(), 1);
    assert!(
        b.warnings()[0].starts_with("quiet=maybe"),
        "{:?}",
        b.warnings()
    );
}

/// The one error [`BootParams::check`] gives for `cmdline`.
fn error(cmdline: &str) -> String {
    let b = p(cmdline);
    format!("{:#}", b.check().expect_err(cmdline))
}

#[test]
fn misspelled_names_of_ours_name_the_nearest() {
    let b = p("boot.shel_on_fail rd.modules-lod=x boot.trcae=1 rd.luks.uuid=1");
    assert!(!b.shell_on_fail);
    assert_eq!(
        b.warnings(),
        [
            "boot.shel_on_fail: unknown parameter, ignored; did you mean boot.shell_on_fail?",
            "rd.modules-lod: unknown parameter, ignored; did you mean rd.modules_load?",
            "boot.trcae: unknown parameter, ignored; did you mean boot.trace?",
            "rd.luks.uuid: unknown parameter, ignored",
        ]
    );
    assert_eq!(b.unknown.len(), 4, "{:?}", b.unknown);
    // Names outside boot./rd. are the kernel's or someone else's.
    let b = p("panic=-1 nokaslr systemd.unit=x quite BOOT_IMAGE=/k BOOT.x");
    assert!(b.warnings().is_empty(), "{:?}", b.warnings());
    assert!(b.check().is_ok());
}

#[test]
fn tmpfs_size_must_be_a_size() {
    assert_eq!(
        p("boot.tmpfs_size=512M").tmpfs_size.as_deref(),
        Some("512M")
    );
    let b = p("boot.tmpfs_size=1G boot.tmpfs_size=-5");
    assert_eq!(b.tmpfs_size, None);
    assert_eq!(
        b.warnings(),
        ["boot.tmpfs_size=-5: not a size like 512M or 50% (of RAM), ignored"]
    );
    assert!(b.check().is_ok(), "the default size applies");
}

/// dracut's `virtiofs:` and `virtfs:` (9p), and `9p:`, in any case; the
/// tag keeps its own.
#[test]
fn host_shares_by_tag() {
    for (value, fs, tag) in [
        ("virtiofs:nix-store", ShareFs::Virtiofs, "nix-store"),
        ("VirtioFS:Store", ShareFs::Virtiofs, "Store"),
        ("virtfs:nix-store", ShareFs::NineP, "nix-store"),
        ("9p:nix-store", ShareFs::NineP, "nix-store"),
        ("9P:a:b", ShareFs::NineP, "a:b"),
    ] {
        assert_eq!(
            RootSpec::parse(value),
            Some(RootSpec::Share(fs, tag.into())),
            "{value}"
        );
    }
    let b = p("root=virtfs:nix-store boot.xchg=shared");
    assert_eq!(
        b.root.as_ref().map(ToString::to_string).as_deref(),
        Some("9p:nix-store")
    );
    assert_eq!(b.xchg.as_deref(), Some("shared"));
    assert!(b.warnings().is_empty(), "{:?}", b.warnings());
    assert_eq!(
        p("boot.xchg").warnings(),
        ["boot.xchg: needs a value (boot.xchg=...), ignored"]
    );
}

#[test]
fn root_that_can_name_nothing_is_an_error() {
    let want = [
        ("root=UUID=zz", "root=UUID=zz: not a UUID: 8-4-4-4-12 hex digits, as blkid prints it"),
        ("root=uuid=0a1b2c3d-4e5f-6789-abcd-ef012345678", "root=UUID=0a1b2c3d-4e5f-6789-abcd-ef012345678: not a UUID"),
        (
            "root=PARTUUID=1234",
            "root=PARTUUID=1234: not a PARTUUID: 8-4-4-4-12 hex digits (GPT) or 1234abcd-01 (MBR), as blkid prints it",
        ),
        ("root=LABEL=", "root=LABEL=: no label after the ="),
        ("realroot=PARTLABEL=", "realroot=PARTLABEL=: no label after the ="),
        ("root=http://", "root=http://: no host; expected http://host[:port]/path"),
        (
            "root=http://[::1/x",
            "root=http://[::1/x: no ] after the IPv6 address; expected http://host[:port]/path",
        ),
        ("root=http://h:0/x", "root=http://h:0/x: bad port `0`"),
        (
            "root=https://h/x",
            "root=https://h/x: no TLS in the initrd: serve the image over http://",
        ),
        (
            "realroot=http://h/x",
            "realroot=http://h/x: not a disk (a /dev path, LABEL=, UUID=, PARTUUID=, PARTLABEL=)",
        ),
        (
            "root=virtfs:",
            "root=9p:: no share tag after the colon (NixOS shares its store as nix-store)",
        ),
        ("realroot=virtiofs:home", "realroot=virtiofs:home: not a disk"),
    ];
    for (cmdline, message) in want {
        let b = p(cmdline);
        assert!(b.warnings().is_empty(), "{cmdline}: {:?}", b.warnings());
        let got = error(cmdline);
        assert!(
            got.starts_with(&format!("kernel command line: {message}")),
            "{got}"
        );
    }
    // One line: the first value that cannot work.
    assert_eq!(
        error("realroot=LABEL= root=UUID=x"),
        "kernel command line: root=UUID=x: not a UUID: 8-4-4-4-12 hex digits, as blkid prints it"
    );
}

#[test]
fn roots_that_can_work_pass() {
    for ok in [
        "root=UUID=0A1B2C3D-4e5f-6789-abcd-ef0123456789",
        "root=PARTUUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "root=PARTUUID=1234ABCD-05",
        "root=PARTLABEL=nixstore realroot=LABEL=nixos",
        "root=http://10.0.2.2:8080/store.squashfs",
        "root=http://[fe80::1]/s",
        "root=/dev/vda",
        "root=vda",
        "root=/nix-store.squashfs",
        "root=virtiofs:nix-store",
        "root=9p:nix-store boot.xchg=shared",
    ] {
        let b = p(ok);
        assert!(b.check().is_ok(), "{ok}: {:?}", b.check());
        assert!(b.warnings().is_empty(), "{ok}: {:?}", b.warnings());
    }
}

#[test]
fn the_last_repeat_is_the_one_checked() {
    let b = p("root=UUID=zz root=/dev/vdb");
    assert!(b.check().is_ok(), "{:?}", b.check());
    assert_eq!(b.root, Some(RootSpec::Path("/dev/vdb".into())));
    let b = p("root=/dev/vdb root=http://");
    assert_eq!(b.root, Some(RootSpec::Url("http://".into())));
    assert!(b.check().is_err());
}

#[test]
fn numbers() {
    assert_eq!(p("loglevel=7").loglevel, Some(7));
    let b = p("loglevel=4 loglevel=x");
    assert_eq!(b.loglevel, None);
    assert_eq!(b.warnings(), ["loglevel=x: not a number 0-7, ignored"]);
    assert_eq!(p("loglevel=8").loglevel, None);
    assert_eq!(p("loglevel=-1").loglevel, None);
    assert_eq!(
        p("boot.root_timeout=10").root_timeout,
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        p("rootdelay=1.5").root_timeout,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        p("boot.root_timeout=3 rootdelay=5").root_timeout,
        Some(Duration::from_secs(5))
    );
    let b = p("rootdelay=-1");
    assert_eq!(b.root_timeout, None);
    assert_eq!(b.warnings().len(), 1);
    assert_eq!(p("rootdelay=inf").root_timeout, None);
    assert_eq!(p("boot.tmpfs_size=50%").tmpfs_size.as_deref(), Some("50%"));
    assert_eq!(p("boot.module_threads=1").module_threads, Some(1));
    assert_eq!(
        p("boot.stop_timeout=2").stop_timeout,
        Some(Duration::from_secs(2))
    );
    assert_eq!(p("boot.module_threads=x").module_threads, None);
}

#[test]
fn power_button_is_one_of_three_words() {
    use super::PowerButton;
    assert_eq!(p("").power_button, None);
    assert_eq!(
        p("boot.power_button=reboot").power_button,
        Some(PowerButton::Reboot)
    );
    assert_eq!(
        p("boot.power-button=ignore").power_button,
        Some(PowerButton::Ignore)
    );
    let b = p("boot.power_button=poweroff boot.power_button=off");
    assert_eq!(b.power_button, None);
    assert_eq!(
        b.warnings(),
        ["boot.power_button=off: not poweroff, reboot or ignore, ignored"]
    );
    assert_eq!(
        PowerButton::parse("poweroff\n"),
        Some(PowerButton::PowerOff)
    );
}

#[test]
fn debug_panic_names_a_stage() {
    assert_eq!(
        p("boot.debug_panic=stage1").debug_panic,
        Some(Stage::Stage1)
    );
    assert_eq!(
        p("boot.debug-panic=stage2").debug_panic,
        Some(Stage::Stage2)
    );
    assert_eq!(
        p("boot.debug_panic=supervise").debug_panic,
        Some(Stage::Supervise)
    );
    assert_eq!(p("").debug_panic, None);
    assert_eq!(
        p("boot.debug_panic=stage3").warnings(),
        ["boot.debug_panic=stage3: not stage1, stage2 or supervise, ignored"]
    );
    for bad in [
        "boot.debug_panic",
        "boot.debug_panic=",
        "boot.debug_panic=stage3",
    ] {
        let b = p(&format!("boot.debug_panic=stage1 {bad}"));
        assert_eq!(b.debug_panic, None, "{bad}");
        assert_eq!(b.warnings().len(), 1, "{bad}: {:?}", b.warnings());
        assert!(
            b.warnings()[0].starts_with("boot.debug_panic"),
            "{bad}: {:?}",
            b.warnings()
        );
        assert!(b.unknown.is_empty(), "{bad}: {:?}", b.unknown);
    }
}

#[test]
fn modules_load_accumulates() {
    let b = p("rd.modules_load=virtio-blk,dm_mod modules_load=dm-mod,,loop rd.modules-load=tun");
    assert_eq!(b.modules_load, ["virtio_blk", "dm_mod", "loop", "tun"]);
    assert!(b.module_params.is_empty());
    let b = p("modules_load=");
    assert!(b.modules_load.is_empty());
    assert_eq!(b.warnings().len(), 1);
}

#[test]
fn module_params() {
    let b = p("virtio-net.napi_tx=1 dm_mod.use_blk_mq virtio_net.csum=0 \
         foo.bar=\"a b\" boot.unknown=1 rd.driver.pre=x .x=1 y.=2");
    assert_eq!(
        b.module_params.get("virtio_net").unwrap(),
        &["napi_tx=1", "csum=0"]
    );
    assert_eq!(b.module_params.get("dm_mod").unwrap(), &["use_blk_mq"]);
    assert_eq!(b.module_params.get("foo").unwrap(), &["bar=\"a b\""]);
    assert_eq!(
        b.module_params_for("virtio-net").as_deref(),
        Some("napi_tx=1 csum=0")
    );
    assert_eq!(b.module_params.len(), 3);
    assert_eq!(
        b.unknown,
        vec![
            pair("boot.unknown", Some("1")),
            pair("rd.driver.pre", Some("x")),
            pair(".x", Some("1")),
            pair("y.", Some("2")),
        ]
    );
}

#[test]
fn dashes_end_our_params() {
    let b = p("quiet -- single foo=\"b c\" -- root=/dev/x");
    assert!(b.quiet);
    assert_eq!(b.init_args, ["single", "foo=b c", "--", "root=/dev/x"]);
    assert_eq!(b.root, None);
    // a valued -- does not end anything; a quoted one does (the kernel
    // removes the quotes before comparing)
    let b = p("--=1 x");
    assert!(b.init_args.is_empty());
    assert_eq!(b.unknown.len(), 2);
    assert_eq!(p("\"--\" x").init_args, ["x"]);
    assert!(p("--").init_args.is_empty());
}

#[test]
fn console_device() {
    let mut b = BootParams::default();
    assert_eq!(b.console_device(), None);
    b.console = Some("/dev/ttyS1".into());
    assert_eq!(b.console_device().as_deref(), Some("ttyS1"));
    b.console = Some(",115200".into());
    assert_eq!(b.console_device(), None);
}

#[test]
fn read_from_file() {
    let dir = std::env::temp_dir().join(format!("stage1-cmdline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cmdline");
    std::fs::write(&f, b"root=/dev/vda quiet\n").unwrap();
    let b = BootParams::read_from(&f).unwrap();
    assert!(b.quiet);
    let err = BootParams::read_from(&dir.join("nope")).unwrap_err();
    assert!(format!("{err:#}").contains("nope"), "{err:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = BootParams::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_cmdline_alphabet(s in "[a-z._= \"\\-\t,0-9/]{0,80}") {
        let b = BootParams::parse(&s);
        for w in b.warnings() {
            prop_assert!(!w.is_empty());
        }
    }

    /// Rendering parameters with quoted values and splitting them again
    /// gives them back.
    #[test]
    fn split_round_trips(
        params in proptest::collection::vec(
            ("[a-zA-Z_.][a-zA-Z0-9_.\\-]{0,12}", proptest::option::of("[^\"]{0,12}")),
            0..8,
        ),
        init in proptest::collection::vec("[a-z0-9=/]{1,8}", 0..4),
    ) {
        let mut line = String::new();
        for (k, v) in &params {
            line.push_str(k);
            if let Some(v) = v {
                line.push_str("=\"");
                line.push_str(v);
                line.push('"');
            }
            line.push(' ');
        }
        if !init.is_empty() {
            line.push_str("-- ");
            line.push_str(&init.join(" "));
        }
        let (got, got_init) = split(&line);
        prop_assert_eq!(got, params);
        prop_assert_eq!(got_init, init);
    }
}
