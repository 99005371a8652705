/**
 * What the client signs with: a keypair (any web3.js `Signer`), a wallet in the wallet-adapter
 * shape (`publicKey`, `signTransaction`, `signAllTransactions`: Phantom, Solflare, Backpack through
 * `@solana/wallet-adapter`, Anchor's `Wallet`), or an Anchor `AnchorProvider` (its wallet).
 * Nothing here needs Node: `KeypairWallet` is the local keypair wallet tests and scripts use in
 * place of a browser wallet.
 */
import type { PublicKey, Signer, Transaction, VersionedTransaction } from "@solana/web3.js";

/** The wallet-adapter interface (also Anchor's `Wallet`). */
export interface WalletAdapterLike {
  readonly publicKey: PublicKey;
  signTransaction<T extends Transaction | VersionedTransaction>(transaction: T): Promise<T>;
  signAllTransactions<T extends Transaction | VersionedTransaction>(transactions: T[]): Promise<T[]>;
}

/** Anything with a wallet: an Anchor `AnchorProvider`, or an object holding a wallet. */
export interface WalletProviderLike {
  readonly wallet: WalletAdapterLike;
}

/** What `CrossMarginClient` accepts to sign with. */
export type SignerLike = Signer | WalletAdapterLike | WalletProviderLike;

/** A v0 transaction (web3.js `VersionedTransaction`), told apart without `instanceof` (which
 * fails across copies of web3.js). */
export function isVersionedTransaction(transaction: Transaction | VersionedTransaction): transaction is VersionedTransaction {
  return "version" in transaction;
}

function isWallet(value: unknown): value is WalletAdapterLike {
  return typeof value === "object" && value !== null && typeof (value as { signTransaction?: unknown }).signTransaction === "function" && "publicKey" in value;
}

function isSigner(value: unknown): value is Signer {
  return typeof value === "object" && value !== null && (value as { secretKey?: unknown }).secretKey instanceof Uint8Array && "publicKey" in value;
}

/** A wallet for any `SignerLike` (a keypair is wrapped in a `KeypairWallet`). */
export function toWallet(signer: SignerLike): WalletAdapterLike {
  if (isWallet(signer)) return signer;
  if (isSigner(signer)) return new KeypairWallet(signer);
  if (typeof signer === "object" && signer !== null && isWallet((signer as WalletProviderLike).wallet)) return (signer as WalletProviderLike).wallet;
  throw new TypeError("not a keypair, a wallet (signTransaction / signAllTransactions) or a provider with a wallet");
}

/** The keypair of a `SignerLike` that is a bare keypair (the client then sends a legacy
 * transaction through `chain.sendTransaction`). */
export function signerOf(signer: SignerLike): Signer | undefined {
  return isSigner(signer) ? signer : undefined;
}

/** A wallet over a local keypair, with the wallet-adapter interface: what a dapp's tests, a
 * script or a keeper pass where a browser wallet would be. */
export class KeypairWallet implements WalletAdapterLike {
  constructor(readonly payer: Signer) {}

  get publicKey(): PublicKey {
    return this.payer.publicKey;
  }

  async signTransaction<T extends Transaction | VersionedTransaction>(transaction: T): Promise<T> {
    if (isVersionedTransaction(transaction)) transaction.sign([this.payer]);
    else transaction.partialSign(this.payer);
    return transaction;
  }

  async signAllTransactions<T extends Transaction | VersionedTransaction>(transactions: T[]): Promise<T[]> {
    for (const transaction of transactions) await this.signTransaction(transaction);
    return transactions;
  }
}
