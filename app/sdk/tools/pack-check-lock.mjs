// Writes package.json and package-lock.json for a fresh project that depends on the packed SDK
// tarball, the SDK's peer dependencies and TypeScript, with every version and integrity taken
// from the SDK's own package-lock.json: `npm ci --offline` then installs it from the npm cache
// that the SDK's install filled, without asking the registry anything (scripts/check-sdk-pack.sh).
// Usage: node pack-check-lock.mjs <sdk dir> <tarball> <project dir>
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const [sdkDir, tarball, projectDir] = process.argv.slice(2);
const sdkLock = JSON.parse(readFileSync(path.join(sdkDir, "package-lock.json"), "utf8"));
const sdkPackage = JSON.parse(readFileSync(path.join(sdkDir, "package.json"), "utf8"));
const packages = sdkLock.packages;

// What a TypeScript dapp installs next to the SDK: its peers, TypeScript and Node's types.
const direct = ["@solana/web3.js", "@anchor-lang/core", "typescript", "@types/node"];
const version = (name) => {
  const entry = packages[`node_modules/${name}`];
  if (!entry) throw new Error(`${name} is not in ${sdkDir}/package-lock.json`);
  return entry.version;
};

// The closure of the SDK tarball's dependencies and the direct ones, resolved as npm does
// (node_modules/a/node_modules/b before node_modules/b).
const wanted = new Map();
const resolve = (from, name) => {
  for (let dir = from; ; ) {
    if (packages[`${dir}/node_modules/${name}`]) return `${dir}/node_modules/${name}`;
    const up = dir.lastIndexOf("/node_modules/");
    if (up < 0) break;
    dir = dir.slice(0, up);
  }
  return packages[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
};
const visit = (key) => {
  if (wanted.has(key)) return;
  const entry = packages[key];
  wanted.set(key, entry);
  for (const dep of Object.keys({ ...entry.dependencies, ...entry.peerDependencies })) {
    const found = resolve(key, dep);
    if (found) visit(found);
    else if (!entry.peerDependenciesMeta?.[dep]?.optional && !entry.optionalDependencies?.[dep]) throw new Error(`${key} needs ${dep}, not in the lock`);
  }
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
    const found = resolve(key, dep);
    if (found) visit(found);
  }
};
for (const name of [...direct, ...Object.keys(sdkPackage.dependencies)]) visit(`node_modules/${name}`);

const tarballName = path.basename(tarball);
const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
const rootDeps = { "@cross-margin/sdk": `file:${tarballName}`, "@solana/web3.js": version("@solana/web3.js"), "@anchor-lang/core": version("@anchor-lang/core") };
const rootDevDeps = { typescript: version("typescript"), "@types/node": version("@types/node") };
const lockPackages = {
  "": { name: "pack-check", dependencies: rootDeps, devDependencies: rootDevDeps },
  "node_modules/@cross-margin/sdk": {
    version: sdkPackage.version,
    resolved: `file:${tarballName}`,
    integrity,
    license: sdkPackage.license,
    dependencies: sdkPackage.dependencies,
    engines: sdkPackage.engines,
    peerDependencies: sdkPackage.peerDependencies,
  },
};
const devOnly = new Set(["typescript", "@types/node"].map((n) => `node_modules/${n}`));
for (const [key, entry] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
  const { dev, devOptional, ...rest } = entry;
  void dev;
  void devOptional;
  lockPackages[key] = devOnly.has(key) ? { ...rest, dev: true } : rest;
}
writeFileSync(
  path.join(projectDir, "package.json"),
  JSON.stringify({ name: "pack-check", private: true, type: "module", dependencies: rootDeps, devDependencies: rootDevDeps }, null, 2) + "\n",
);
writeFileSync(path.join(projectDir, "package-lock.json"), JSON.stringify({ name: "pack-check", lockfileVersion: 3, requires: true, packages: lockPackages }, null, 2) + "\n");
console.log(`${wanted.size + 1} packages locked`);
