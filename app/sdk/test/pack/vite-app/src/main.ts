// A fresh dapp's entry (scripts/check-sdk-vite.sh builds it with Vite from the packed SDK and
// loads it in headless Chromium): the Buffer global Anchor's coder needs, then the SDK's IDL
// coder, PDAs and a v0 transaction signed by a wallet, all in the browser, without a network.
import { Buffer } from "buffer";
globalThis.Buffer ??= Buffer;

import { Keypair, PublicKey, TransactionMessage, VersionedTransaction } from "@solana/web3.js";
import { createAccountIx, KeypairWallet, PROGRAM_ID, q64ToDecimalString } from "@cross-margin/sdk";

async function main(): Promise<string> {
  const wallet = new KeypairWallet(Keypair.generate());
  const group = new PublicKey("11111111111111111111111111111112");
  const { instruction, account } = await createAccountIx({ group, owner: wallet.publicKey, payer: wallet.publicKey, accountNum: 0 });
  const message = new TransactionMessage({ payerKey: wallet.publicKey, recentBlockhash: PublicKey.default.toBase58(), instructions: [instruction] }).compileToV0Message();
  const signed = await wallet.signTransaction(new VersionedTransaction(message));
  const signatureOk = signed.signatures[0]!.some((byte) => byte !== 0);
  if (!instruction.programId.equals(PROGRAM_ID) || !signatureOk) throw new Error("bad instruction or signature");
  return `sdk-ok account=${account.toBase58()} one=${q64ToDecimalString(1n << 64n, 2)}`;
}

const out = document.getElementById("out")!;
main().then(
  (text) => (out.textContent = text),
  (error: unknown) => (out.textContent = `sdk-failed ${String(error)}`),
);
