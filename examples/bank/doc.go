// Package bank is an in-memory implementation of the demo bank API,
// examples.bank.v1.BankService, that the Portcullis docs, tests and
// benchmarks run behind the gateway.
//
// [New] returns a [Server] seeded with deterministic demo data: customers
// customers/alice and customers/bob, and three accounts,
//
//	accounts/alice-checking  customers/alice  EUR   2,500.00
//	accounts/alice-savings   customers/alice  EUR  12,000.00
//	accounts/bob-checking    customers/bob    GBP     750.00
//
// each with a short transaction history whose sum is its balance.
//
// The server behaves like a small real bank: names are validated
// (codes.InvalidArgument), unknown accounts are codes.NotFound, a transfer
// larger than the balance fails with codes.FailedPrecondition and an
// errdetails.PreconditionFailure detail, transfers are idempotent on their
// request_id, and WatchTransactions streams transactions as they are booked.
//
// For proxy tests, every method served through [Register] or
// [NewGRPCServer] also honours these request metadata keys:
//
//	x-echo-header: v   the response header x-echo-header: v is sent
//	x-echo-trailer: v  the response trailer x-echo-trailer: v is sent
//	x-bank-delay: 250ms  the call waits that long before it is handled; if
//	                   its context ends first it fails with the context's
//	                   status and [Server.Cancelled] counts it
//
// A Server is safe for concurrent use. Nothing here is production code: all
// state lives in memory and is lost when the process exits.
package bank
