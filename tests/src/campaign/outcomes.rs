//! Which outcomes an action may have: whether it may succeed, and the errors it may end in.

use anchor_lang::error::ErrorCode as AnchorError;

use super::{State, World};
use crate::MarginError;

/// What an error may be, for the allowed-outcome lists.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expect {
    Margin(MarginError),
    Anchor(AnchorError),
    /// A custom code from another program (the system program's "already in use" is 0).
    Code(u32),
}

impl Expect {
    pub(super) fn code(self) -> u32 {
        match self {
            Expect::Margin(e) => e.into(),
            Expect::Anchor(e) => e.into(),
            Expect::Code(c) => c,
        }
    }
}

pub(super) use Expect::{Anchor as A, Margin as M};

pub(super) const ORACLE_ERRORS: [Expect; 8] = [
    M(MarginError::OracleStale),
    M(MarginError::OracleConfidenceTooWide),
    M(MarginError::OracleNotFullyVerified),
    M(MarginError::OracleNotTrading),
    M(MarginError::OracleNonPositivePrice),
    M(MarginError::OracleWrongFeed),
    M(MarginError::OracleInvalidAccount),
    M(MarginError::OracleWrongOwner),
];

/// A closed margin account fails Anchor's account check.
pub(super) const CLOSED: [Expect; 2] =
    [A(AnchorError::AccountNotInitialized), A(AnchorError::AccountOwnedByWrongProgram)];

/// Which outcomes an action may have.
#[derive(Debug, Clone)]
pub(super) struct Allowed {
    pub(super) success: bool,
    pub(super) errors: Vec<Expect>,
}

impl Allowed {
    pub(super) fn success(errors: &[Expect]) -> Self {
        Self { success: true, errors: errors.to_vec() }
    }

    pub(super) fn failure(errors: &[Expect]) -> Self {
        Self { success: false, errors: errors.to_vec() }
    }

    pub(super) fn extend(&mut self, errors: &[Expect]) {
        self.errors.extend_from_slice(errors);
    }

    /// These errors allowed too.
    pub(super) fn and(mut self, errors: &[Expect]) -> Self {
        self.extend(errors);
        self
    }
}

impl World {
    /// MathOverflow is expected exactly when a bank the instruction accrues cannot accrue:
    /// its debt has outgrown u64 (more than any token's supply). Checked against the program's
    /// own accrual, so an overflow anywhere else still fails the campaign.
    pub(super) fn overflow_allowed(&self, s: &State, banks: &[usize], allowed: &mut Allowed) {
        if banks.iter().any(|&b| Self::accrual_overflows(s, b)) {
            allowed.extend(&[M(MarginError::MathOverflow)]);
        }
    }
}
