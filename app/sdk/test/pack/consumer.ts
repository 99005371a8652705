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
  TransactionFailedError,
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

// The README's "Integrate it" example, line for line (type-checked here so it cannot rot).
export async function integrate(rpcUrl: string, wallet: WalletAdapterLike, group: PublicKey, solBank: PublicKey, solAta: PublicKey, usdcBank: PublicKey, usdcAta: PublicKey, alert: (name: string | undefined) => void) {
  const client = CrossMarginClient.fromUrl(rpcUrl, wallet); // wallet-adapter wallet, AnchorProvider or Keypair
  const account = marginAccountAddress(group, wallet.publicKey, 0);
  if (!(await client.chain.getAccount(account))) await client.createAccount(group);
  try {
    await client.deposit({ account, owner: wallet.publicKey, bank: solBank, userToken: solAta, amount: 2_000_000_000n });
    await client.borrow({ account, owner: wallet.publicKey, bank: usdcBank, userToken: usdcAta, amount: 50_000_000n });
  } catch (e) { if (e instanceof TransactionFailedError) alert(e.decoded?.name); } // e.g. "InitHealthNegative"
  const { init, maint, liquidatable } = await client.health(account, wallet.publicKey);
  return { init, maint, liquidatable };
}
