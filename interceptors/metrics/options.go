package metrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/policy"
)

// Option configures a Metrics.
type Option func(*options)

type options struct {
	transport  func(ctx context.Context) string
	known      func(fullMethod string) bool
	maxMethods int
	buckets    []float64
}

// DefaultBuckets are the default upper bounds, in seconds, of
// portcullis_request_duration_seconds: from 1ms (a cached denial) to 60s
// (a long stream).
var DefaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

const defaultMaxMethods = 1024

func evaluateOptions(opts []Option) (*options, error) {
	o := &options{
		transport:  transportFromMetadata,
		known:      wellFormed,
		maxMethods: defaultMaxMethods,
		buckets:    DefaultBuckets,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.transport == nil || o.known == nil {
		return nil, errors.New("metrics: nil WithTransportFunc or WithMethodFilter")
	}
	if o.maxMethods < 1 {
		return nil, fmt.Errorf("metrics: WithMaxMethods(%d): must be at least 1", o.maxMethods)
	}
	if len(o.buckets) == 0 {
		return nil, errors.New("metrics: WithBuckets: no buckets")
	}
	for i := 1; i < len(o.buckets); i++ {
		if !(o.buckets[i-1] < o.buckets[i]) {
			return nil, fmt.Errorf("metrics: WithBuckets: bucket %d (%g) not above bucket %d (%g)", i, o.buckets[i], i-1, o.buckets[i-1])
		}
	}
	o.buckets = append([]float64(nil), o.buckets...)
	return o, nil
}

// WithTransportFunc sets the function that names the transport label of a
// call. The default reads the incoming metadata key "x-portcullis-transport"
// (TransportKey): "http" gives "http", anything else (or nothing) "grpc".
// f is called on every call, concurrently, and must return one of a small
// fixed set of values, since each becomes a time series.
func WithTransportFunc(f func(ctx context.Context) string) Option {
	return func(o *options) { o.transport = f }
}

// WithMethodFilter sets the predicate that says whether a full method name
// is known. Unknown names are recorded with method="unknown". The default
// accepts every well-formed name ("/pkg.Service/Method"), up to the
// WithMaxMethods cap; the gateway passes a lookup in its policy registry
// plus the methods it serves itself. f is called on every call,
// concurrently, and must be safe for that.
func WithMethodFilter(f func(fullMethod string) bool) Option {
	return func(o *options) { o.known = f }
}

// WithMaxMethods caps the number of distinct method label values (besides
// "unknown"); once reached, further new names are recorded as "unknown".
// It is a backstop behind WithMethodFilter. The default is 1024.
func WithMaxMethods(n int) Option {
	return func(o *options) { o.maxMethods = n }
}

// WithBuckets sets the histogram upper bounds, in seconds, strictly
// increasing. The default is DefaultBuckets.
func WithBuckets(b ...float64) Option {
	return func(o *options) { o.buckets = b }
}

// TransportKey is the internal metadata key naming the transport a call
// came in on. The gateway's REST front sets it to "http"; the gateway strips
// it from client input on both transports.
const TransportKey = "x-portcullis-transport"

const (
	transportGRPC = "grpc"
	transportHTTP = "http"
)

// transportFromMetadata maps TransportKey to "http" or "grpc", so that the
// label has two values whatever the metadata says.
func transportFromMetadata(ctx context.Context) string {
	if v := policy.IncomingValue(ctx, TransportKey); len(v) == 1 && v[0] == transportHTTP {
		return transportHTTP
	}
	return transportGRPC
}

// wellFormed reports whether name is "/service/method" with both parts
// non-empty and no further slash.
func wellFormed(name string) bool {
	if len(name) < 4 || name[0] != '/' {
		return false
	}
	slash := 0
	for i := 1; i < len(name); i++ {
		if name[i] == '/' {
			if slash != 0 {
				return false
			}
			slash = i
		}
	}
	return slash > 1 && slash < len(name)-1
}
