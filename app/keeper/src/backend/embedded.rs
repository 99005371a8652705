//! The in-process backend: LiteSVM running the real `.so`, through the client's
//! [`EmbeddedChain`]. Borrowed for a call, so tests and the stress lab can move prices and the
//! clock between keeper rounds, and several keepers can share one chain.

use cross_margin_client::outcome::Failed;
use cross_margin_client::{EmbeddedChain, Pubkey};
use solana_message::Hash;
use solana_transaction::versioned::VersionedTransaction;

use super::{AccountData, Backend, BackendError, Filter, Landed, Rejection, Simulation};

pub struct EmbeddedBackend<'a> {
    pub chain: &'a mut EmbeddedChain,
}

impl<'a> EmbeddedBackend<'a> {
    pub fn new(chain: &'a mut EmbeddedChain) -> Self {
        Self { chain }
    }
}

fn rejection(failed: Failed) -> Rejection {
    Rejection {
        code: failed.custom_code(),
        message: format!("{:?}", failed.error),
        logs: failed.logs,
    }
}

impl Backend for EmbeddedBackend<'_> {
    fn name(&self) -> String {
        "embedded".into()
    }

    fn program_accounts(
        &mut self,
        program: &Pubkey,
        filters: &[Filter],
    ) -> Result<Vec<(Pubkey, AccountData)>, BackendError> {
        let mut accounts: Vec<(Pubkey, AccountData)> = self
            .chain
            .svm
            .get_program_accounts(program)
            .into_iter()
            .filter(|(_, account)| filters.iter().all(|f| f.matches(&account.data)))
            .map(|(key, account)| {
                let data = AccountData {
                    owner: account.owner,
                    lamports: account.lamports,
                    data: account.data,
                };
                (key, data)
            })
            .collect();
        // The accounts store is a hash map: sort so that every run sees the same order.
        accounts.sort_by_key(|(key, _)| *key);
        Ok(accounts)
    }

    fn multiple_accounts(
        &mut self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<AccountData>>, BackendError> {
        Ok(keys
            .iter()
            .map(|key| {
                self.chain.account(key).map(|a| AccountData {
                    owner: a.owner,
                    lamports: a.lamports,
                    data: a.data,
                })
            })
            .collect())
    }

    fn unix_timestamp(&mut self) -> Result<i64, BackendError> {
        Ok(self.chain.clock().unix_timestamp)
    }

    fn latest_blockhash(&mut self) -> Result<Hash, BackendError> {
        Ok(self.chain.svm.latest_blockhash())
    }

    fn simulate(&mut self, tx: &VersionedTransaction) -> Result<Simulation, BackendError> {
        Ok(match self.chain.simulate_versioned(tx.clone()) {
            Ok(done) => {
                Simulation { compute_units: done.compute_units, rejection: None, logs: done.logs }
            }
            Err(failed) => Simulation {
                compute_units: failed.compute_units,
                logs: failed.logs.clone(),
                rejection: Some(rejection(failed)),
            },
        })
    }

    fn send_and_confirm(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Result<Landed, Rejection>, BackendError> {
        let signature = tx.signatures.first().map(ToString::to_string).unwrap_or_default();
        Ok(match self.chain.send_versioned(tx.clone()) {
            Ok(done) => {
                Ok(Landed { signature, compute_units: done.compute_units, logs: done.logs })
            }
            Err(failed) => Err(rejection(failed)),
        })
    }
}
