//! Shared helpers for the integration tests: locating the built binary
//! (`bin`), driving QEMU (`vm`), the runit differential harness (`runit`)
//! and a loopback HTTP server for netboot tests (`http`); [`require`] for
//! every test that needs something the host may lack.
pub mod bin;
pub mod http;
pub mod runit;
pub mod vm;

/// Whether a test that cannot run here must fail instead of skipping: under
/// CI (`CI=true`, as `.ci/run` is run) and under `make test`
/// (`VM_TESTS_REQUIRED=1`), where a skip would be a pass nobody asked for.
pub fn skipping_fails() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
        || matches!(std::env::var("VM_TESTS_REQUIRED").as_deref(), Ok("1"))
}

/// For a test that needs root, QEMU, `dist/` or a tool: `ok` says whether
/// the host has it. If not, prints `SKIPPING <test>: <why>` and returns
/// `false` so that the test returns early, or panics with that reason when
/// [`skipping_fails`].
pub fn require(test: &str, why: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            !skipping_fails(),
            "{test} cannot run: {why} (CI=true or VM_TESTS_REQUIRED=1: not skipped)"
        );
        eprintln!("SKIPPING {test}: {why}");
    }
    ok
}
