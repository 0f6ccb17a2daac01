//! Stand-ins for library functions that std links but PID 1 never really
//! uses, each of which drags a large piece of libunwind or musl into the
//! static binary. Compiled only when scripts/build-init.sh rebuilds std with
//! `panic_abort` for musl (`--cfg init_link_stubs`); the static linker then
//! takes these definitions and leaves the archives' objects out.
//!
//! ## libunwind (about 40 KiB)
//!
//! PID 1 is built with `panic = "abort"` and std without symbolization, so
//! nothing ever unwinds and a captured backtrace could only be a list of bare
//! addresses that nobody reads (the panic hook prints the message and goes to
//! the failure menu). std still references `_Unwind_Backtrace` from its
//! default panic hook, and that one reference links all of libunwind's DWARF
//! interpreter: about 40 KiB of `dist/init`. Defining the two symbols here
//! keeps the static linker from pulling libunwind's objects out of the
//! archive; a backtrace, if one is ever asked for, is empty. std's
//! personality routine (`rust_eh_personality`, compiled in even with
//! `panic = "abort"`) names seven more; it runs only while unwinding, which
//! never happens, so those stand-ins are never called.
#![allow(unsafe_code)]

/// `_URC_END_OF_STACK`: the walk ended before the first frame.
const END_OF_STACK: i32 = 5;

/// `_Unwind_Backtrace(trace, data)`: report no frames.
#[no_mangle]
pub extern "C" fn _Unwind_Backtrace(_trace: *const u8, _data: *mut u8) -> i32 {
    END_OF_STACK
}

/// `_Unwind_GetIP(context)`: never called, as there are no frames.
#[no_mangle]
pub extern "C" fn _Unwind_GetIP(_context: *const u8) -> usize {
    0
}

/// `__register_frame(fde)`: crtbegin.o registers the image's `.eh_frame` at
/// start-up for the unwinder; with no unwinder there is nothing to tell.
#[no_mangle]
pub extern "C" fn __register_frame(_fde: *const u8) {}

/// `__deregister_frame(fde)`: crtend's counterpart of `__register_frame`.
#[no_mangle]
pub extern "C" fn __deregister_frame(_fde: *const u8) {}

/// Context accessors of the personality routine: unreachable without
/// unwinding; they answer "nothing here".
#[no_mangle]
pub extern "C" fn _Unwind_GetLanguageSpecificData(_context: *const u8) -> *const u8 {
    std::ptr::null()
}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_GetIPInfo(_context: *const u8, _before: *mut i32) -> usize {
    0
}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_GetRegionStart(_context: *const u8) -> usize {
    0
}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_GetTextRelBase(_context: *const u8) -> usize {
    0
}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_GetDataRelBase(_context: *const u8) -> usize {
    0
}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_SetGR(_context: *mut u8, _index: i32, _value: usize) {}

/// See `_Unwind_GetLanguageSpecificData`.
#[no_mangle]
pub extern "C" fn _Unwind_SetIP(_context: *mut u8, _value: usize) {}

/// `pthread_setname_np(thread, name)`: std calls it only for threads given
/// a name, and PID 1 names none. musl's version formats
/// `/proc/self/task/%d/comm` with snprintf, which links all of printf
/// (about 9 KiB with its float formatting).
#[no_mangle]
pub extern "C" fn pthread_setname_np(_thread: usize, _name: *const u8) -> i32 {
    0
}
