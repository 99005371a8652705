/**
 * The wallet the page signs with. Anything with the wallet-adapter interface works
 * (`publicKey`, `signTransaction`, `signAllTransactions`): here an injected browser wallet
 * (Phantom, Solflare, Backpack: `window.phantom.solana` / `window.solana`), or — for tests
 * only — a local keypair wallet (`KeypairWallet` from the SDK) whose secret key a test injects
 * as `window.crossMarginTestWallet`. With `@solana/wallet-adapter-react` you would pass its
 * `useWallet()` / `useAnchorWallet()` object to `CrossMarginClient` instead.
 */
import { Keypair, type PublicKey, type Transaction, type VersionedTransaction } from "@solana/web3.js";
import { KeypairWallet, type WalletAdapterLike } from "@cross-margin/sdk";

interface InjectedWallet {
  publicKey: PublicKey | null;
  connect(): Promise<{ publicKey: PublicKey }>;
  signTransaction<T extends Transaction | VersionedTransaction>(transaction: T): Promise<T>;
  signAllTransactions<T extends Transaction | VersionedTransaction>(transactions: T[]): Promise<T[]>;
}

declare global {
  interface Window {
    phantom?: { solana?: InjectedWallet };
    solana?: InjectedWallet;
    /** Tests only: a 64-byte secret key for a local keypair wallet. */
    crossMarginTestWallet?: number[];
  }
}

export async function connectWallet(): Promise<{ wallet: WalletAdapterLike; kind: string }> {
  if (window.crossMarginTestWallet) {
    return { wallet: new KeypairWallet(Keypair.fromSecretKey(Uint8Array.from(window.crossMarginTestWallet))), kind: "local test wallet" };
  }
  const injected = window.phantom?.solana ?? window.solana;
  if (!injected) throw new Error("no wallet found: install a Solana wallet extension");
  const { publicKey } = await injected.connect();
  const wallet: WalletAdapterLike = {
    publicKey,
    signTransaction: (transaction) => injected.signTransaction(transaction),
    signAllTransactions: (transactions) => injected.signAllTransactions(transactions),
  };
  return { wallet, kind: "browser wallet" };
}
