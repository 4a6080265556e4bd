export * from './frame.js';
export * from './messages.js';
export * from './login.js';
export * from './connection.js';
export * from './error-codes.js';
export * from './bounded-writer.js';
export * from './capabilities.js';
