//! Events for every state change a keeper or an indexer cares about. Emitted with `emit!`
//! (program log data), decoded by the IDL's event discriminators.

use anchor_lang::prelude::*;

#[event]
pub struct GroupCreated {
    pub group: Pubkey,
    pub admin: Pubkey,
    pub group_num: u32,
    pub pyth_receiver_program: Pubkey,
    pub pyth_legacy_program: Pubkey,
}
