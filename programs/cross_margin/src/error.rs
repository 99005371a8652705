//! The program's one error enum. Codes are part of the public API (clients decode them by
//! number), so variants are only ever appended, never reordered or removed.

use anchor_lang::prelude::*;

#[error_code]
pub enum MarginError {
    #[msg("Oracle program id must not be the default (all-zero) key")]
    OracleProgramIdIsDefault,
    #[msg("The Pyth receiver and legacy Pyth program ids must differ")]
    OracleProgramIdsNotDistinct,
    #[msg("Arithmetic overflow")]
    MathOverflow,
}
