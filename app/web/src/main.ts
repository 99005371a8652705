/**
 * A margin account on one page: connect to a cluster and a group, connect a wallet, see the
 * account's positions, init and maint health and the liquidation price of every position, and
 * deposit, borrow, repay or withdraw through the wallet. Failures show the program's error name
 * (`TransactionFailedError.decoded.name`); a failing action is refused in simulation, before the
 * wallet is asked to sign.
 */
import "./polyfills";
import "./style.css";

import { PublicKey, type TransactionInstruction } from "@solana/web3.js";
import {
  associatedTokenAddress,
  ConnectionChain,
  createAssociatedTokenAccountIdempotentIx,
  CrossMarginClient,
  estimateLiquidationPrice,
  marginAccountAddress,
  microUsdToUi,
  nativeToUi,
  TransactionFailedError,
  uiToNative,
  type AccountHealth,
  type Bank,
  type Loaded,
  type PerpMarket,
  type PythQuote,
  type WalletAdapterLike,
} from "@cross-margin/sdk";

import { connectWallet } from "./wallet";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

interface State {
  client: CrossMarginClient;
  group: PublicKey;
  banks: Array<Loaded<Bank>>;
  perpMarkets: Array<Loaded<PerpMarket>>;
  /** Display names by bank index (`?names=USDC,SOL,BTC`), else the mint's first characters. */
  names: string[];
  wallet?: WalletAdapterLike;
  account?: PublicKey;
}
let state: State | undefined;

function status(text: string, error = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = error ? "error" : "";
}

/** An error as the user should read it: the program's error name first. */
function describe(error: unknown): string {
  if (error instanceof TransactionFailedError && error.decoded) return `${error.decoded.name}: ${error.decoded.message}`;
  return error instanceof Error ? error.message : String(error);
}

const price = (quote: PythQuote): number => Number(quote.price) * 10 ** quote.exponent;
const usd = (value: number | null): string => (value === null ? "none" : value.toLocaleString("en-US", { maximumFractionDigits: 4 }));
/** A liquidation price estimate as a user reads it. For an account already liquidatable the
 * estimate is the price at which it would be healthy again; 0 means at any price. */
function liquidationText(liquidatable: boolean, estimate: number | null): string {
  if (!liquidatable) return estimate === 0 ? "any price" : usd(estimate);
  if (estimate === null) return "now (no price alone heals it)";
  return estimate === 0 ? "now (at any price)" : `now (healthy past ${usd(estimate)})`;
}
const bankName = (s: State, index: number): string => s.names[index] ?? `#${index} ${s.banks[index]?.data.mint.toBase58().slice(0, 4)}…`;

async function connect(): Promise<void> {
  const url = ($<HTMLInputElement>("rpc-url")).value.trim();
  const group = new PublicKey(($<HTMLInputElement>("group")).value.trim());
  const client = new CrossMarginClient(ConnectionChain.fromUrl(url));
  const [banks, perpMarkets] = await Promise.all([client.banks(group), client.perpMarkets(group)]);
  const names = (params.get("names") ?? "").split(",").filter(Boolean);
  state = { client, group, banks, perpMarkets, names };
  $<HTMLSelectElement>("bank").replaceChildren(...banks.map((b) => new Option(bankName(state!, b.data.bankIndex), String(b.data.bankIndex))));
  $<HTMLButtonElement>("connect-wallet").disabled = false;
  status(`connected: ${banks.length} banks, ${perpMarkets.length} perp markets`);
}

async function connectTheWallet(): Promise<void> {
  if (!state) return;
  const { wallet, kind } = await connectWallet();
  // The same client type, now signing with the wallet: actions build v0 transactions with a
  // simulated CU limit and a priority fee, and the wallet signs them.
  state.client = new CrossMarginClient(state.client.chain, state.client.programId, wallet);
  state.wallet = wallet;
  state.account = marginAccountAddress(state.group, wallet.publicKey, 0);
  $("wallet").textContent = `${kind} ${wallet.publicKey.toBase58()}`;
  $("account-address").textContent = state.account.toBase58();
  $("account").hidden = false;
  await refresh();
}

function row(cells: string[]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  for (const text of cells) tr.insertCell().textContent = text;
  return tr;
}

async function refresh(): Promise<void> {
  const s = state;
  if (!s?.wallet || !s.account) return;
  const exists = (await s.client.chain.getAccount(s.account)) !== null;
  $("create-account").hidden = exists;
  if (!exists) {
    $("health-init").textContent = $("health-maint").textContent = "–";
    status("no margin account yet: create one");
    return;
  }
  // The program's own `health` view, simulated (the wallet's key pays nothing: nothing is signed).
  const health: AccountHealth = await s.client.health(s.account, s.wallet.publicKey);
  $("health-init").textContent = microUsdToUi(health.init);
  $("health-maint").textContent = microUsdToUi(health.maint);
  const badge = $("liquidatable");
  badge.textContent = health.liquidatable ? "liquidatable" : "healthy";
  badge.className = `badge ${health.liquidatable ? "danger" : "ok"}`;

  const positions = await Promise.all(
    health.positions.map(async (p) => {
      const bank = s.banks[p.bankIndex]!.data;
      const quote = await s.client.oracleQuote(bank);
      const liquidation = estimateLiquidationPrice(health, p.bankIndex, quote).liquidationPrice;
      return row([bankName(s, p.bankIndex), p.isLiability ? "borrow" : "deposit", nativeToUi(p.native, bank.decimals), microUsdToUi(p.value), usd(price(quote)), liquidationText(health.liquidatable, liquidation)]);
    }),
  );
  $("positions").querySelector("tbody")!.replaceChildren(...positions);

  const perps = await Promise.all(
    health.perpPositions.map(async (p) => {
      const market = s.perpMarkets[p.marketIndex]!;
      const estimate = await s.client.perpLiquidationPrice(s.account!, market.address, s.wallet!.publicKey);
      const settle = s.banks[market.data.settleBankIndex]!.data;
      return row([`perp #${p.marketIndex}`, p.baseLots >= 0n ? "long" : "short", p.baseLots.toString(), nativeToUi(p.pnl, settle.decimals), usd(price(estimate.currentQuote)), liquidationText(health.liquidatable, estimate.liquidationPrice)]);
    }),
  );
  $("perps").querySelector("tbody")!.replaceChildren(...perps);
}

type Action = "deposit" | "borrow" | "repay" | "withdraw";

async function act(action: Action): Promise<void> {
  const s = state;
  if (!s?.wallet || !s.account) return;
  const bank = s.banks[Number($<HTMLSelectElement>("bank").value)]!;
  const amount = uiToNative($<HTMLInputElement>("amount").value, bank.data.decimals);
  const request = {
    account: s.account,
    owner: s.wallet.publicKey,
    bank: bank.address,
    userToken: associatedTokenAddress(s.wallet.publicKey, bank.data.mint, bank.data.tokenProgram),
    amount,
  };
  status(`${action}: simulating, then asking the wallet to sign…`);
  const instructions: TransactionInstruction[] = [];
  // Tokens leaving the account need a token account to land in: create the wallet's associated
  // token account in the same transaction if it has none yet.
  if ((action === "borrow" || action === "withdraw") && !(await s.client.chain.getAccount(request.userToken))) {
    instructions.push(createAssociatedTokenAccountIdempotentIx(s.wallet.publicKey, s.wallet.publicKey, bank.data.mint, bank.data.tokenProgram));
  }
  const builders = { deposit: "depositIx", borrow: "borrowIx", repay: "repayIx", withdraw: "withdrawIx" } as const;
  instructions.push(await s.client[builders[action]](request));
  // A v0 transaction (CU limit from simulation, priority fee from recent fees) signed by the wallet.
  const sent = await s.client.send(instructions);
  await refresh();
  // Set once the page shows the account after the action (the browser test waits for it).
  status(`${action} ${nativeToUi(amount, bank.data.decimals)} ${bankName(s, bank.data.bankIndex)}: confirmed ${sent.signature.slice(0, 16)}… (${sent.computeUnits} CU)`);
}

/** Runs a handler with its failure shown by name, the page's buttons disabled meanwhile. */
function guarded(handler: () => Promise<void>): () => void {
  return () => {
    const buttons = [...document.querySelectorAll<HTMLButtonElement>("button")];
    const enabled = buttons.filter((b) => !b.disabled);
    enabled.forEach((b) => (b.disabled = true));
    handler()
      .catch((error: unknown) => status(describe(error), true))
      .finally(() => enabled.forEach((b) => (b.disabled = false)));
  };
}

$<HTMLInputElement>("rpc-url").value = params.get("rpc") ?? $<HTMLInputElement>("rpc-url").value;
$<HTMLInputElement>("group").value = params.get("group") ?? "";
$("connect").addEventListener("click", guarded(connect));
$("connect-wallet").addEventListener("click", guarded(connectTheWallet));
$("refresh").addEventListener("click", guarded(refresh));
$("create-account").addEventListener("click", guarded(async () => {
  const s = state!;
  const { sent } = await s.client.createAccount(s.group);
  await refresh();
  status(`account created: ${sent.signature.slice(0, 16)}…`);
}));
for (const action of ["deposit", "borrow", "repay", "withdraw"] as const) $(action).addEventListener("click", guarded(() => act(action)));
