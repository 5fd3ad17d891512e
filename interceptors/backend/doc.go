// Package backend lets a gRPC backend refuse every call that did not come
// through the Portcullis gateway.
//
// The gateway authenticates and authorizes each call, then forwards it with
// a short-lived identity assertion in metadata "x-portcullis-assertion"
// (MetadataKey): a compact JWS, typ "portcullis-assertion+jwt", signed with
// the gateway's own key (EdDSA or ES256) and bound to one call:
//
//	{
//	  "iss": "portcullis-prod",                 // the gateway's id
//	  "sub": "alice", "kind": "user",           // the principal
//	  "roles": ["teller"], "credential": "jwt", // how it authenticated
//	  "method": "/examples.bank.v1.BankService/Transfer",
//	  "aud": "examples.bank.v1.BankService",    // the service forwarded to
//	  "request_id": "01J…",                     // the gateway's x-request-id
//	  "iat": 1767225600, "exp": 1767225630,     // 30 seconds by default
//	  "jti": "…"                                // unique per call
//	}
//
// The gateway publishes its public keys as a JWK Set on its admin listener,
// at /.well-known/portcullis-jwks.json. A Verifier, built by New, fetches
// that set and gives a unary and a stream server interceptor. They accept a
// call only with exactly one assertion that is signed by a key of the set
// with a pinned algorithm (never "none", never HMAC, never a key embedded
// in the token), has the right typ, iss, method (the called full method)
// and aud (the called service, or one of Config.Audiences), is within its
// exp and iat (small leeway) and not longer-lived than Config.MaxLifetime,
// and, with WithReplayProtection, is used for the first time. Anything else
// ends with codes.Unauthenticated and the fixed message "call did not come
// through the gateway"; the reason goes to the debug log (WithLogger). The
// verified claims are in the handler's context (FromContext).
//
// Adopting it takes a few lines:
//
//	v, err := backend.New(backend.Config{
//		Issuer:  "portcullis-prod",
//		JWKSURL: "https://portcullis-admin:9443/.well-known/portcullis-jwks.json",
//	}, backend.WithExemptMethods("/grpc.health.v1.Health/*"))
//	if err != nil {
//		return err
//	}
//	defer v.Close()
//	srv := grpc.NewServer(
//		grpc.Creds(mtlsCreds), // the assertion complements mTLS to the gateway
//		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(v.StreamServerInterceptor()),
//	)
//
// and, in a handler:
//
//	a, _ := backend.FromContext(ctx) // a.Subject, a.Roles, a.RequestID
//
// # Keys and rotation
//
// The key set comes from a URL (https, or http to a loopback address),
// a file, or a static document. A URL or file is re-read every
// Config.RefreshInterval and when an assertion names a kid the set lacks,
// at most once per Config.MinRefreshInterval, each fetch bounded in time
// (Config.FetchTimeout) and size (Config.MaxJWKSBytes); a document that
// fails to load leaves the last good set in place. So when the gateway
// rotates its key, its next assertion names the new kid, the backend
// refreshes and carries on, and assertions signed by the old key keep
// verifying for as long as the gateway still publishes it. A refused
// unknown-kid refresh (one already ran within MinRefreshInterval) refuses
// the call; the next periodic refresh heals it.
//
// Exempt methods (WithExemptMethods) are let through untouched, with no
// assertion in their context: use it for health checks that the
// orchestrator makes directly, nothing else.
package backend
