/**
 * Which position slots an account will have after an instruction: the remaining accounts of
 * `withdraw`, `borrow` and `liquidate` must list `(bank, oracle)` for the positions as they will
 * be *after* it. A slot opens when a new bank is used and closes when its shares reach zero; this
 * is the program's share maths (`positions.rs`, as the Rust client's `account_after` and
 * `liquidator_after` run it), ported with the same rounding. It predicts slots only; it never
 * computes health.
 *
 * Pass the bank as the program will see it: accrued to the cluster's time (`accrueInterest`), as
 * `CrossMarginClient` does. With stored indices a full withdrawal or repayment in a bank that
 * earned interest since its last touch is predicted to close a slot the program keeps open.
 */
import { PositionKind, type Bank, type MarginAccount, type Position } from "./accounts";
import { divQ64, mulQ64 } from "./fixed";

export type Movement = "deposit" | "withdraw" | "borrow" | "repay";

/** The bank fields the share maths reads. */
export type BankShares = Pick<Bank, "bankIndex" | "depositIndex" | "borrowIndex">;

/** A step the program would refuse; the prediction stops there, as the instruction would. */
class Refused extends Error {}

const emptySlot = (): Position => ({ shares: 0n, bankIndex: 0, kind: PositionKind.Empty });

function clone(account: MarginAccount): MarginAccount {
  return { ...account, positions: account.positions.map((p) => ({ ...p })) };
}

function find(account: MarginAccount, bankIndex: number): number {
  return account.positions.findIndex((p) => p.kind !== PositionKind.Empty && p.bankIndex === bankIndex);
}

function findOrOpen(account: MarginAccount, bankIndex: number): number {
  const slot = find(account, bankIndex);
  if (slot >= 0) return slot;
  const free = account.positions.findIndex((p) => p.kind === PositionKind.Empty);
  if (free < 0) throw new Refused("NoFreePositionSlot");
  account.positions[free] = { shares: 0n, bankIndex, kind: PositionKind.Empty };
  return free;
}

function closeIfEmpty(account: MarginAccount, slot: number): void {
  if (account.positions[slot]!.shares === 0n) account.positions[slot] = emptySlot();
}

function repayInSlot(account: MarginAccount, slot: number, bank: BankShares, amount: bigint, debt: bigint): void {
  const position = account.positions[slot]!;
  const repaid = amount === debt ? position.shares : min(divQ64(amount, bank.borrowIndex, "down"), position.shares);
  if (repaid === 0n) throw new Refused("AmountTooSmall");
  position.shares -= repaid;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

function deposit(account: MarginAccount, bank: BankShares, amount: bigint): void {
  const slot = findOrOpen(account, bank.bankIndex);
  let remaining = amount;
  const position = account.positions[slot]!;
  if (position.kind === PositionKind.Borrow) {
    const debt = mulQ64(position.shares, bank.borrowIndex, "up");
    const repay = min(remaining, debt);
    repayInSlot(account, slot, bank, repay, debt);
    remaining -= repay;
  }
  if (remaining > 0n) {
    const shares = divQ64(remaining, bank.depositIndex, "down");
    if (shares === 0n) throw new Refused("AmountTooSmall");
    position.kind = PositionKind.Deposit;
    position.shares += shares;
  }
  closeIfEmpty(account, slot);
}

function withdraw(account: MarginAccount, bank: BankShares, amount: bigint): void {
  const slot = find(account, bank.bankIndex);
  const position = account.positions[slot];
  if (slot < 0 || position?.kind !== PositionKind.Deposit) throw new Refused("InsufficientDeposit");
  const available = mulQ64(position.shares, bank.depositIndex, "down");
  if (amount > available) throw new Refused("InsufficientDeposit");
  const burned = amount === available ? position.shares : min(divQ64(amount, bank.depositIndex, "up"), position.shares);
  position.shares -= burned;
  closeIfEmpty(account, slot);
}

function borrow(account: MarginAccount, bank: BankShares, amount: bigint): void {
  const slot = findOrOpen(account, bank.bankIndex);
  const position = account.positions[slot]!;
  if (position.kind === PositionKind.Deposit) throw new Refused("BorrowAgainstOwnDeposit");
  position.kind = PositionKind.Borrow;
  position.shares += divQ64(amount, bank.borrowIndex, "up");
}

function repay(account: MarginAccount, bank: BankShares, amount: bigint): void {
  const slot = find(account, bank.bankIndex);
  const position = account.positions[slot];
  if (slot < 0 || position?.kind !== PositionKind.Borrow) throw new Refused("NoBorrow");
  const debt = mulQ64(position.shares, bank.borrowIndex, "up");
  if (amount > debt) throw new Refused("RepayExceedsDebt");
  repayInSlot(account, slot, bank, amount, debt);
  closeIfEmpty(account, slot);
}

function assumeDebt(account: MarginAccount, bank: BankShares, amount: bigint): void {
  const slot = find(account, bank.bankIndex);
  const position = account.positions[slot];
  const held = slot >= 0 && position?.kind === PositionKind.Deposit ? mulQ64(position.shares, bank.depositIndex, "down") : 0n;
  const fromDeposit = min(amount, held);
  if (fromDeposit > 0n) withdraw(account, bank, fromDeposit);
  if (amount > fromDeposit) borrow(account, bank, amount - fromDeposit);
}

/** Runs `steps` on a copy of `account`; a refused step leaves the copy as the program would
 * have left it at that point (the transaction then fails anyway). */
function predict(account: MarginAccount, steps: (copy: MarginAccount) => void): MarginAccount {
  const copy = clone(account);
  try {
    steps(copy);
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
  }
  return copy;
}

/** The account after `movement` of `amount` native tokens in `bank`. */
export function accountAfter(account: MarginAccount, bank: BankShares, movement: Movement, amount: bigint): MarginAccount {
  return predict(account, (copy) => {
    switch (movement) {
      case "deposit":
        return deposit(copy, bank, amount);
      case "withdraw":
        return withdraw(copy, bank, amount);
      case "borrow":
        return borrow(copy, bank, amount);
      case "repay":
        return repay(copy, bank, amount);
    }
  });
}

/** The liquidator's account after taking over `liab` of debt in `liabBank` and receiving
 * `asset` in `assetBank`. Any positive amounts give the same set of slots unless the liquidator
 * already holds a deposit in the liability bank that the debt would use up exactly. */
export function liquidatorAfter(
  account: MarginAccount,
  liabBank: BankShares,
  liab: bigint,
  assetBank: BankShares,
  asset: bigint,
): MarginAccount {
  return predict(account, (copy) => {
    assumeDebt(copy, liabBank, liab);
    deposit(copy, assetBank, asset);
  });
}

/** What the account owes in `bank` (native, rounded up; 0 without a borrow). */
export function borrowNative(account: MarginAccount, bank: BankShares): bigint {
  const slot = find(account, bank.bankIndex);
  const position = account.positions[slot];
  return slot >= 0 && position?.kind === PositionKind.Borrow ? mulQ64(position.shares, bank.borrowIndex, "up") : 0n;
}

/** What the account's deposit in `bank` is worth (native, rounded down; 0 without one). */
export function depositNative(account: MarginAccount, bank: BankShares): bigint {
  const slot = find(account, bank.bankIndex);
  const position = account.positions[slot];
  return slot >= 0 && position?.kind === PositionKind.Deposit ? mulQ64(position.shares, bank.depositIndex, "down") : 0n;
}
