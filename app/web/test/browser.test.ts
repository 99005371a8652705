/**
 * The page end to end in a real headless Chromium (Debian's /usr/bin/chromium, or
 * CROSS_MARGIN_CHROMIUM, driven by playwright-core), against real JSON-RPC endpoints running the
 * real program (app/sdk/test/support/web-fixture.ts): the loopback endpoint backed by LiteSVM,
 * and, when CROSS_MARGIN_VALIDATOR names a solana-test-validator (scripts/test-web.sh sets it
 * when the validator is installed), the same market on the validator. With the local keypair
 * wallet, it connects, deposits, borrows and sees init health fall, repays,
 * withdraws, borrows a token it has no token account for (the page creates it), sees `InitHealthNegative` by name on an over-borrow, and sees the account become
 * liquidatable after SOL's price falls. Serves the built page (app/web/dist; `npm run build`),
 * and leaves a screenshot in test-results/page.png (CROSS_MARGIN_WEB_SCREENSHOT: elsewhere;
 * the validator run's beside it, page-validator.png).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { chromium, type Browser, type Page } from "playwright-core";

import { startValidatorWebFixture, startWebFixture, type WebFixture } from "../../sdk/test/support/web-fixture";

const DIST = path.resolve(__dirname, "../dist");
const SCREENSHOT = process.env["CROSS_MARGIN_WEB_SCREENSHOT"] ?? path.resolve(__dirname, "../test-results/page.png");
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

/** A static server for the built page. */
async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const pathname = new URL(request.url ?? "/", "http://localhost").pathname;
    const file = path.join(DIST, pathname === "/" ? "index.html" : path.normalize(pathname));
    if (!file.startsWith(DIST)) {
      response.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => response.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const VALIDATOR = process.env["CROSS_MARGIN_VALIDATOR"];
const backends: Array<{ name: string; start: () => Promise<WebFixture>; screenshot: string }> = [
  { name: "LiteSVM", start: startWebFixture, screenshot: SCREENSHOT },
];
if (VALIDATOR) {
  backends.push({ name: "solana-test-validator", start: () => startValidatorWebFixture(VALIDATOR), screenshot: SCREENSHOT.replace(/(\.png)?$/, "-validator.png") });
}

for (const backend of backends) describe(`app/web in headless Chromium, on ${backend.name}`, () => {
  let fixture: WebFixture;
  let site: { server: Server; url: string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fixture = await backend.start();
    assert.equal(fixture.backend, backend.name);
    site = await serve();
    browser = await chromium.launch({ executablePath: process.env["CROSS_MARGIN_CHROMIUM"] ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1100, height: 560 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // A validator confirms in slots, and slower on a loaded machine (a 2-core CI box running the
    // validator, Chromium and the test): a minute per step there, 20 s against LiteSVM.
    page.setDefaultTimeout(fixture.backend === "LiteSVM" ? 20_000 : 60_000);
    // The local keypair wallet (the page's `KeypairWallet`: the wallet-adapter interface).
    await page.addInitScript((secret: number[]) => {
      (window as unknown as { crossMarginTestWallet: number[] }).crossMarginTestWallet = secret;
    }, fixture.userSecretKey);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    await fixture?.stop();
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const usd = async (selector: string) => Number((await text(selector)).replace(/,/g, ""));
  async function action(name: "deposit" | "borrow" | "repay" | "withdraw", bank: "USDC" | "SOL" | "BTC", amount: string, expect: RegExp) {
    await page.selectOption("#bank", { label: bank });
    await page.fill("#amount", amount);
    await page.click(`#${name}`);
    await page.locator("#status", { hasText: expect }).waitFor().catch(async (error: unknown) => {
      throw new Error(`${name} ${amount} ${bank}: the page says ${JSON.stringify(await text("#status"))}; page errors ${JSON.stringify(pageErrors)}`, { cause: error });
    });
  }

  it("connects, deposits, borrows, repays, withdraws, names an over-borrow's error, and shows liquidation after a price fall", async () => {
    const query = new URLSearchParams({ rpc: fixture.url, group: fixture.group, names: "USDC,SOL,BTC" });
    await page.goto(`${site.url}/?${query}`);
    await page.click("#connect");
    await page.locator("#status", { hasText: "connected: 3 banks, 1 perp markets" }).waitFor();
    await page.click("#connect-wallet");
    await page.locator("#wallet", { hasText: fixture.user }).waitFor();
    await page.locator("#liquidatable", { hasText: "healthy" }).waitFor();
    // The fixture's 2 SOL deposit and 1-token perp long, with its liquidation price.
    await page.locator("#perps tbody tr", { hasText: "long" }).waitFor();
    assert.match(await page.locator("#perps tbody tr").first().innerText(), /perp #0\s+long\s+100\s/);
    const initial = await usd("#health-init");

    await action("deposit", "SOL", "10", /deposit 10 SOL: confirmed/);
    const deposited = await usd("#health-init");
    assert.ok(deposited > initial, `init health ${initial} -> ${deposited} after the deposit`);
    await page.locator("#positions tbody tr", { hasText: "SOL" }).waitFor();

    await action("borrow", "USDC", "500", /borrow 500 USDC: confirmed/);
    const borrowed = await usd("#health-init");
    assert.ok(borrowed < deposited - 400, `init health ${deposited} -> ${borrowed} after borrowing 500 USDC`);
    assert.match(await page.locator("#positions tbody tr", { hasText: "borrow" }).innerText(), /USDC\s+borrow\s+500(\.\d+)?\s/);
    const solRow = await page.locator("#positions tbody tr", { hasText: "SOL" }).innerText();
    const solLiquidation = Number(solRow.trim().split(/\s+/).at(-1)!.replace(/,/g, ""));
    assert.ok(solLiquidation > 0 && solLiquidation < 125, `SOL liquidation price ${solLiquidation}`);

    await action("repay", "USDC", "100", /repay 100 USDC: confirmed/);
    await action("withdraw", "SOL", "1", /withdraw 1 SOL: confirmed/);
    // No BTC token account yet: the page creates it in the borrow's transaction.
    await action("borrow", "BTC", "0.0001", /borrow 0.0001 BTC: confirmed/);
    assert.match(await page.locator("#positions tbody tr", { hasText: "BTC" }).innerText(), /BTC\s+borrow\s+0\.0001\s/);

    await action("borrow", "USDC", "100000", /InitHealthNegative/);
    assert.equal(await page.locator("#status").getAttribute("class"), "error");

    // SOL falls below the liquidation price the page shows now: the account becomes liquidatable.
    const liquidation = Number((await page.locator("#positions tbody tr", { hasText: "SOL" }).innerText()).trim().split(/\s+/).at(-1)!.replace(/,/g, ""));
    await fixture.setPrice("SOL", BigInt(Math.floor(liquidation * 0.9)));
    await page.click("#refresh");
    await page.locator("#liquidatable", { hasText: "liquidatable" }).waitFor();
    await page.locator("#refresh:enabled").waitFor(); // the refresh is done (perp rows last)
    assert.ok((await usd("#health-maint")) < 0);
    assert.match(await page.locator("#positions tbody tr", { hasText: "SOL" }).innerText(), /now \(healthy past [\d.]+\)/);
    await page.screenshot({ path: backend.screenshot, fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
