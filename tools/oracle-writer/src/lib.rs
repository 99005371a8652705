//! Overwrites bytes of the first account it is given: instruction data = `offset: u32 LE`
//! followed by the bytes. The runtime only lets a program write accounts it owns and that the
//! transaction marks writable, so it can only touch accounts created as owned by it (genesis
//! accounts on a local validator). Test-only: there is no authority check.
#![no_std]

/// The loader's serialized input (aligned ABI): `u64` account count, then per account
/// `dup, signer, writable, executable, 4 padding, key[32], owner[32], lamports u64, len u64,
/// data[len], 10 KiB realloc room, padding to 8, rent_epoch u64`, then `u64` instruction length
/// and the instruction data.
const DATA_LEN_AT: usize = 8 + 8 + 32 + 32 + 8;
const DATA_AT: usize = DATA_LEN_AT + 8;
const REALLOC_ROOM: usize = 10 * 1024;

const SUCCESS: u64 = 0;
/// A custom error 1: wrong account count, a duplicate, short data or a write past the end.
const BAD_INPUT: u64 = 1 << 32 | 1;

unsafe fn read_u64(at: *const u8) -> u64 {
    core::ptr::read_unaligned(at as *const u64)
}

/// # Safety
/// Called by the SBF loader with its serialized input.
#[no_mangle]
pub unsafe extern "C" fn entrypoint(input: *mut u8) -> u64 {
    if read_u64(input) != 1 || *input.add(8) != u8::MAX || *input.add(10) == 0 {
        return BAD_INPUT;
    }
    let len = read_u64(input.add(DATA_LEN_AT)) as usize;
    let data = input.add(DATA_AT);
    let after = DATA_AT + len + REALLOC_ROOM;
    let ix_len_at = (after + 7) / 8 * 8 + 8;
    let ix_len = read_u64(input.add(ix_len_at)) as usize;
    let ix = input.add(ix_len_at + 8);
    if ix_len < 4 {
        return BAD_INPUT;
    }
    let offset = u32::from_le_bytes([*ix, *ix.add(1), *ix.add(2), *ix.add(3)]) as usize;
    let count = ix_len - 4;
    if offset > len || count > len - offset {
        return BAD_INPUT;
    }
    // A plain loop, not `copy_nonoverlapping`: that lowers to a `memcpy` call, which this
    // dependency-free program does not link (the target spec's `no-builtins` keeps the loop).
    for i in 0..count {
        *data.add(offset + i) = *ix.add(4 + i);
    }
    SUCCESS
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
