// Injected by tsup into the published build (tsup.config.ts): every use of the global `Buffer`
// becomes an import of this one, so the package needs no global polyfill in a browser.
export { Buffer } from "buffer";
