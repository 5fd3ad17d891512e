package audit

import (
	"strconv"
	"time"
)

// Entry is one record on its way to the sinks: the Event and its canonical
// encoding without the chain keys (seq, prev_hash, hash), which each sink
// adds with its own Chain. An Entry and its Event are valid only during the
// Sink.Write call that receives them and must not be modified.
type Entry struct {
	// Event is the record, for sinks that store typed columns.
	Event *Event

	// body holds the record's members, each written as `,"key":value` in
	// key order, without braces; the chain keys go at the three offsets.
	body                     []byte
	offHash, offPrev, offSeq int
	refs                     int // sinks still holding it (writer goroutine only)
}

// NewEntry encodes e for a Sink, as the Logger's writer does; for tools
// and tests that feed a Sink directly. Type and Version default as in
// Logger.Log.
func NewEntry(e *Event) *Entry {
	if e.Type == "" {
		e.Type = TypeCall
	}
	if e.Version == 0 {
		e.Version = SchemaVersion
	}
	en := &Entry{Event: e}
	en.encode()
	return en
}

// encode fills en from its Event.
func (en *Entry) encode() {
	en.body = appendBody(en.body[:0], en.Event, &en.offHash, &en.offPrev, &en.offSeq)
}

// appendBody appends the members of e in canonical key order and records
// where the chain keys belong.
func appendBody(b []byte, e *Event, offHash, offPrev, offSeq *int) []byte {
	switch e.Type {
	case TypeGap:
		b = appendUintKey(b, `,"dropped":`, e.Dropped)
		*offHash, *offPrev = len(b), len(b)
		b = appendStringKey(b, `,"reason":`, e.Reason)
		*offSeq = len(b)
		return appendTail(b, e)
	case TypeSeal:
		b = appendUintKey(b, `,"count":`, e.Count)
		*offHash = len(b)
		b = appendStringKey(b, `,"last_hash":`, e.LastHash)
		*offPrev = len(b)
		if e.Recovered {
			b = append(b, `,"recovered":true`...)
		}
		*offSeq = len(b)
		return appendTail(b, e)
	case TypeIntent:
		b = appendStringKey(b, `,"client_ip":`, e.ClientIP)
		*offHash = len(b)
		b = appendHTTP(b, &e.HTTP)
		b = appendStringKey(b, `,"method":`, e.Method)
		*offPrev = len(b)
		b = appendStringKey(b, `,"request_id":`, e.RequestID)
		*offSeq = len(b)
		b = appendTime(b, e.Time)
		b = appendTLS(b, &e.TLS)
		b = appendStringKey(b, `,"trace_id":`, e.TraceID)
		b = appendStringKey(b, `,"transport":`, e.Transport)
		return appendTypeVersion(b, e)
	}
	// TypeCall, and any other type with the call layout.
	if e.AuthnFailure != "" {
		b = appendStringKey(b, `,"authn_failure":`, e.AuthnFailure)
	}
	b = appendStringKey(b, `,"client_ip":`, e.ClientIP)
	if e.Credential.present() {
		p := len(b)
		b = appendOptString(b, `,"id":`, e.Credential.ID)
		b = appendOptString(b, `,"kind":`, e.Credential.Kind)
		b = closeObject(b, `,"credential":`, p)
	}
	if e.Decision.present() {
		b = appendDecision(b, &e.Decision)
	}
	b = appendIntKey(b, `,"duration_us":`, e.DurationMicros)
	*offHash = len(b)
	b = appendHTTP(b, &e.HTTP)
	b = appendStringKey(b, `,"method":`, e.Method)
	*offPrev = len(b)
	if e.Principal.present() {
		p := len(b)
		b = appendOptString(b, `,"id":`, e.Principal.ID)
		b = appendOptString(b, `,"kind":`, e.Principal.Kind)
		b = appendOptStrings(b, `,"roles":`, e.Principal.Roles)
		b = appendOptString(b, `,"tenant":`, e.Principal.Tenant)
		b = closeObject(b, `,"principal":`, p)
	}
	if e.RateLimit.present() {
		p := len(b)
		if e.RateLimit.Degraded { // keys in canonical (sorted) order
			b = append(b, `,"degraded":true`...)
		}
		b = appendOptString(b, `,"key":`, e.RateLimit.Key)
		b = appendBoolKey(b, `,"limited":`, e.RateLimit.Limited)
		b = closeObject(b, `,"rate_limit":`, p)
	}
	if len(e.Request) > 0 {
		b = append(b, `,"request":`...)
		b = appendRequest(b, e)
	}
	b = appendIntKey(b, `,"request_bytes":`, e.RequestBytes)
	b = appendStringKey(b, `,"request_id":`, e.RequestID)
	b = appendIntKey(b, `,"request_messages":`, e.RequestMessages)
	if e.Resource != "" {
		b = appendStringKey(b, `,"resource":`, e.Resource)
	}
	b = appendIntKey(b, `,"response_bytes":`, e.ResponseBytes)
	b = appendIntKey(b, `,"response_messages":`, e.ResponseMessages)
	*offSeq = len(b)
	p := len(b)
	b = appendStringKey(b, `,"code":`, e.Status.Code)
	b = appendOptString(b, `,"message":`, e.Status.Message)
	b = closeObject(b, `,"status":`, p)
	b = appendTime(b, e.Time)
	b = appendTLS(b, &e.TLS)
	b = appendStringKey(b, `,"trace_id":`, e.TraceID)
	b = appendStringKey(b, `,"transport":`, e.Transport)
	return appendTypeVersion(b, e)
}

// appendTail writes the members that gap and seal records end with.
func appendTail(b []byte, e *Event) []byte {
	return appendTypeVersion(appendTime(b, e.Time), e)
}

func appendTypeVersion(b []byte, e *Event) []byte {
	b = appendStringKey(b, `,"type":`, e.Type)
	return appendIntKey(b, `,"v":`, int64(e.Version))
}

func appendDecision(b []byte, d *Decision) []byte {
	p := len(b)
	b = appendBoolKey(b, `,"allowed":`, d.Allowed)
	b = appendOptString(b, `,"bundle_version":`, d.BundleVersion)
	b = appendOptString(b, `,"condition":`, d.Condition)
	if d.Disagreement {
		b = append(b, `,"disagreement":true`...)
	}
	b = appendOptStrings(b, `,"effective":`, d.Effective)
	b = appendOptString(b, `,"failed_requirement":`, d.FailedRequirement)
	b = appendOptStrings(b, `,"matched_roles":`, d.MatchedRoles)
	b = appendOptString(b, `,"reason":`, d.Reason)
	b = appendOptStrings(b, `,"required":`, d.Required)
	b = appendOptString(b, `,"shadow_version":`, d.ShadowVersion)
	return closeObject(b, `,"decision":`, p)
}

func appendHTTP(b []byte, h *HTTP) []byte {
	if !h.present() {
		return b
	}
	p := len(b)
	b = appendOptString(b, `,"method":`, h.Method)
	b = appendOptString(b, `,"route":`, h.Route)
	return closeObject(b, `,"http":`, p)
}

func appendTLS(b []byte, t *TLS) []byte {
	if !t.present() {
		return b
	}
	p := len(b)
	b = appendOptString(b, `,"cert_sha256":`, t.CertSHA256)
	b = appendBoolKey(b, `,"mtls":`, t.MTLS)
	b = appendOptString(b, `,"spiffe_id":`, t.SPIFFEID)
	b = appendOptString(b, `,"version":`, t.Version)
	return closeObject(b, `,"tls":`, p)
}

// appendRequest writes the rendered request fields, re-encoding them
// canonically unless the renderer produced them.
func appendRequest(b []byte, e *Event) []byte {
	if e.requestCanonical() {
		return append(b, e.Request...)
	}
	c, err := Canonical(e.Request)
	if err != nil {
		return appendString(b, "[INVALID]")
	}
	return append(b, c...)
}

// closeObject turns the members appended since p (each with a leading
// comma) into a JSON object under key, shifting them right by len(key).
func closeObject(b []byte, key string, p int) []byte {
	n := len(b) - p
	b = append(b, key...)
	b = append(b, '}')
	copy(b[p+len(key):], b[p:p+n])
	copy(b[p:], key)
	if n == 0 {
		b[p+len(key)] = '{'
		return append(b[:p+len(key)+1], '}')
	}
	b[p+len(key)] = '{'
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendStringKey(b []byte, key, s string) []byte { return appendString(append(b, key...), s) }

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendStringKey(b, key, s)
}

func appendOptStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendIntKey(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendUintKey(b []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(b, key...), v, 10)
}

func appendBoolKey(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}
