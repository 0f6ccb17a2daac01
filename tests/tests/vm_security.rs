//! Security checks in the VM (issue 11): services see only the environment
//! runit gives them, and the failure menu offers no shell unless
//! `boot.shell_on_fail` says so.
use anyhow::{ensure, Context, Result};
use tests::vm::Vm;

mod common;
use common::stage1::*;

/// The kernel hands `LEAKME=1` (no dot, so not a module parameter) to PID 1
/// as an environment variable; the supervised `hello` must start with
/// `PATH` alone (runit's promise), whatever PID 1 has.
#[test]
fn services_start_with_path_only() -> Result<()> {
    let test = "services_start_with_path_only";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let mut vm = Vm::boot(&config(test, dist, &["LEAKME=1"]))?;
    vm.wait_for_console(HELLO_LOGGED, BOOT)?;
    let pid1 = guest(&mut vm, "tr '\\0' '\\n' </proc/1/environ")?;
    ensure!(
        pid1.lines().any(|l| l == "LEAKME=1"),
        "the kernel did not pass LEAKME=1 to PID 1 (the test proves nothing): {pid1:?}"
    );
    let status = guest(&mut vm, "sv status /etc/service/hello")?;
    let pid = status
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .with_context(|| format!("no pid in {status:?}"))?;
    let env = guest(&mut vm, &format!("tr '\\0' '\\n' </proc/{pid}/environ"))?;
    // `hello/run` is a busybox sh script that execs: the shell adds its own
    // PWD and SHLVL before that; nothing else may be there.
    let vars: Vec<&str> = env.lines().filter(|l| !l.is_empty()).collect();
    let names: Vec<&str> = vars
        .iter()
        .map(|v| v.split_once('=').map_or(*v, |(k, _)| k))
        .collect();
    ensure!(
        vars.iter().any(|v| v.starts_with("PATH=/nix/store/"))
            && names
                .iter()
                .all(|n| ["PATH", "PWD", "SHLVL", "_"].contains(n)),
        "hello's environment is {vars:?}, want PATH (and the shell's own PWD, SHLVL)"
    );
    no_panic(&vm.console())
}

/// Without `boot.shell_on_fail` the failure menu says how to get a shell
/// and offers none.
#[test]
fn failure_menu_offers_no_shell_without_shell_on_fail() -> Result<()> {
    let test = "failure_menu_offers_no_shell_without_shell_on_fail";
    let Some(dist) = check(test) else {
        return Ok(());
    };
    let _slot = Slot::take();
    let vm = Vm::boot(&config(
        test,
        dist,
        &["toplevel=/nix/store/00000000000000000000000000000000-missing"],
    ))?;
    vm.wait_for_console("r) to reboot immediately", BOOT)?;
    let console = vm.console();
    ensure!(
        console.contains("(add boot.shell_on_fail to the kernel command line for a shell)"),
        "the menu does not say how to get a shell:\n{console}"
    );
    ensure!(
        !console.contains("i) to launch") && !console.contains("i) to use the built-in rescue"),
        "the menu offers a shell without boot.shell_on_fail:\n{console}"
    );
    no_panic(&console)
}
