/** STUN (RFC 8489 Binding, RFC 5780 attributes): codec, client transactions, a client for shared sockets. See README.md. */
export { Attr, CHANGE_IP, CHANGE_PORT, MAGIC_COOKIE, MAX_ATTRIBUTES, MAX_MESSAGE_SIZE, Method, type StunClass } from './constants.js';
export { decodeMessage, encodeMessage, findAttribute, hasMagicCookie, transactionKey } from './message.js';
export type { StunAttribute, StunDecodeError, StunDecodeResult, StunMessage } from './message.js';
export { decodeAddressValue, decodeXorAddressValue, encodeAddressValue, encodeXorAddressValue } from './address.js';
export { encodeBindingRequest, newStunId, PADDED_REQUEST_SIZE, readBindingResponse, readChangeRequest, readErrorCode } from './binding.js';
export type { BindingRequestOptions, BindingResponseInfo, ChangeRequest } from './binding.js';
export { BindingTransaction, DEFAULT_MAX_SENDS, DEFAULT_RTO_MS, DEFAULT_TRANSACTION_TIMEOUT_MS } from './transaction.js';
export type { TransactionOptions, TransactionResult } from './transaction.js';
export { BindingClient, type BindingClientOptions, type BindingClientStats, type BindingQuery } from './binding-client.js';
