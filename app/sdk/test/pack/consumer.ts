// Type-checked in a fresh project that installed the packed SDK (scripts/check-sdk-pack.sh):
// what a dapp imports, with the app's own @solana/web3.js (the SDK's is a peer dependency, so
// both are the same copy and their PublicKey types are interchangeable).
import { Connection, Keypair, PublicKey, type VersionedTransaction } from "@solana/web3.js";
import {
  ConnectionChain,
  CrossMarginClient,
  KeypairWallet,
  PROGRAM_ID,
  marginAccountAddress,
  q64ToDecimalString,
  type WalletAdapterLike,
} from "@cross-margin/sdk";
import { parseDeployConfig } from "@cross-margin/sdk/deploy";

export async function depositTransaction(url: string, wallet: WalletAdapterLike, group: PublicKey, bank: PublicKey, userToken: PublicKey): Promise<VersionedTransaction> {
  const client = new CrossMarginClient(new ConnectionChain(new Connection(url, "confirmed")), PROGRAM_ID, wallet);
  const account = marginAccountAddress(group, wallet.publicKey, 0);
  return client.depositTx({ account, owner: wallet.publicKey, bank, userToken, amount: 1n });
}

export const programId: PublicKey = PROGRAM_ID;
export const wallet: WalletAdapterLike = new KeypairWallet(Keypair.generate());
export const one: string = q64ToDecimalString(1n << 64n, 2);
export const parse: typeof parseDeployConfig = parseDeployConfig;
