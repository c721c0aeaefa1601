// The connection facts every adapter reads alike live with the core (server/verify/connection-hints.ts).
export { connectionHints } from '../verify/connection-hints.js';
