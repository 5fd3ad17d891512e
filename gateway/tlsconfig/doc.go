// Package tlsconfig builds the *tls.Config of the gateway's listeners and of
// its upstream (backend) connections from typed, file-based settings, and
// reloads certificates when their files change.
//
// Every configuration speaks TLS 1.2 or 1.3 only; TLS 1.2 is limited to ECDHE
// key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305). ALPN offers
// "h2" unless WithNextProtos says otherwise.
//
// A Reloader owns the current certificate, key and CA pool as an immutable
// snapshot. On a handshake it stats its files at most once per check interval
// (one second by default); when a modification time or size changed it loads
// the new files, validates them and swaps the snapshot atomically. A bad new
// file (unparsable, key not matching, expired) keeps the previous snapshot and
// is reported to the error handler, which logs with slog by default. The next
// change of any file is tried again. Watch offers the same check on a timer,
// for processes that want rotation noticed without waiting for traffic.
//
// Replace files atomically (write elsewhere, then rename) and write the key
// before the certificate; a handshake that sees a certificate without its key
// keeps the old pair and retries when the key arrives.
package tlsconfig
