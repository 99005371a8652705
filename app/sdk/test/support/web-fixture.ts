/**
 * The chain the web page's browser test (app/web/test) drives: the LiteSVM market of
 * support/market.ts (USDC, SOL, BTC banks with a lender's liquidity) with a SOL-PERP-like perp
 * market and its pool, behind the loopback JSON-RPC endpoint; a user holding USDC and SOL in
 * its associated token accounts, whose margin account holds 2 SOL and a 1-token perp long
 * (so that the page has a perp position to show). Everything crosses to the browser test as
 * strings. The user has no BTC token account: the page creates it on the first BTC borrow.
 */
import { associatedTokenAddress } from "../../src";
import { Market, quoteDollars } from "./market";
import { addPerpMarket, perpRequest, setPerpPrice, withPool } from "./perp-market";
import { LiteSvmRpcServer } from "./rpc-server";

const USDC = 1_000_000n;
const SOL = 1_000_000_000n;

export interface WebFixture {
  url: string;
  group: string;
  /** The user's keypair (64 bytes), for the page's local test wallet. */
  userSecretKey: number[];
  user: string;
  /** Sets a bank's oracle price (whole dollars) at the chain's current time. */
  setPrice(bank: "USDC" | "SOL" | "BTC", dollars: bigint): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebFixture(): Promise<WebFixture> {
  const market = await Market.create();
  await market.withLiquidity();
  const perp = await addPerpMarket(market, 100n);
  setPerpPrice(market, perp, quoteDollars(100n, 0n, market.now()));
  await withPool(market, perp, 50_000n * USDC);

  const user = await market.user([0n, 0n, 0n]);
  // The page finds the user's tokens in its associated token accounts; it has none for BTC
  // (the page creates it with its first BTC borrow).
  user.tokens = [market.usdc, market.sol].map((bank, i) => market.chain.createTokenAccount(bank.mint, user.keypair.publicKey, [1_000n * USDC, 20n * SOL][i]!, associatedTokenAddress(user.keypair.publicKey, bank.mint)));
  await market.deposit(user, market.sol, 2n * SOL);
  await market.send(user, await market.client.placePerpOrderIx({ ...perpRequest(user, perp), side: "long", sizeLots: 100n }));

  const server = new LiteSvmRpcServer(market.chain);
  const url = await server.start();
  const banks = { USDC: market.usdc, SOL: market.sol, BTC: market.btc };
  return {
    url,
    group: market.group.toBase58(),
    userSecretKey: Array.from(user.keypair.secretKey),
    user: user.keypair.publicKey.toBase58(),
    setPrice: (bank, dollars) => market.setPrice(banks[bank], quoteDollars(dollars, 0n, market.now())),
    stop: () => server.stop(),
  };
}
