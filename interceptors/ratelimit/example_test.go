package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

func ExampleUnaryServerInterceptor() {
	transfer := &policy.Method{
		FullMethod: "/bank.v1.Bank/Transfer",
		// 60 per minute, bursts of 1 above that: 2 calls at once.
		RateLimit: &policy.RateLimit{Rate: 60, Period: time.Minute, Burst: 1, Key: policy.KeyPrincipal},
	}
	now := time.Unix(1_700_000_000, 0)
	store := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return now }))
	intercept := ratelimit.UnaryServerInterceptor(store,
		// The gateway passes resolve.FromContext and authn.FromContext.
		ratelimit.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return transfer, true }),
		ratelimit.WithPrincipalFunc(func(context.Context) (*policy.Principal, bool) {
			return &policy.Principal{ID: "alice", Kind: policy.KindUser}, true
		}))
	rec := &policy.Record{}
	ctx := policy.NewRecordContext(context.Background(), rec)
	for i := range 3 {
		_, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: transfer.FullMethod},
			func(context.Context, any) (any, error) { return "ok", nil })
		if err != nil {
			d, _ := retryDelay(err)
			fmt.Println(i, status.Code(err), status.Convert(err).Message(), "retry in", d)
			continue
		}
		fmt.Println(i, "allowed")
	}
	fmt.Println(rec.RateLimitKey, rec.RateLimited)
	// Output:
	// 0 allowed
	// 1 allowed
	// 2 ResourceExhausted rate limit exceeded retry in 1s
	// /bank.v1.Bank/Transfer|principal|alice true
}

func ExampleNewMemory() {
	now := time.Unix(1_700_000_000, 0)
	s := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return now }))
	l := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 2} // 100ms per cell, 3 at once
	for range 4 {
		r, _ := s.Take(context.Background(), "k", l, 1)
		fmt.Printf("allowed=%v remaining=%d retry=%v reset=%v\n", r.Allowed, r.Remaining, r.RetryAfter, r.ResetAfter)
	}
	// Output:
	// allowed=true remaining=2 retry=0s reset=100ms
	// allowed=true remaining=1 retry=0s reset=200ms
	// allowed=true remaining=0 retry=0s reset=300ms
	// allowed=false remaining=0 retry=100ms reset=300ms
}

func ExampleNewFallback() {
	down := ratelimit.StoreFunc(func(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
		return ratelimit.Result{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
	})
	l := ratelimit.Limit{Rate: 1, Period: time.Second}
	ctx := context.Background()

	local := ratelimit.NewFallback(down, ratelimit.NewMemory(), ratelimit.FallbackLocal,
		ratelimit.WithOnDegraded(func(degraded bool, err error) { fmt.Println("degraded:", degraded, err) }))
	r, err := local.Take(ctx, "k", l, 1)
	fmt.Println("local:", r.Allowed, r.Degraded, err)

	closed := ratelimit.NewFallback(down, nil, ratelimit.FailClosed)
	r, err = closed.Take(ctx, "k", l, 1)
	fmt.Println("fail closed:", r.Allowed, r.Degraded, err)
	// Output:
	// degraded: true dial tcp 127.0.0.1:6379: connection refused
	// local: true true <nil>
	// fail closed: false true ratelimit: store unavailable
}

// ExampleNewRedis wires the shared limiter as a gateway does: Redis with
// leases, bounded by a Fallback to a local limit per replica.
func ExampleNewRedis() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // lets the Fallback's timeout bound each call
	})
	defer client.Close()
	metrics := ratelimit.NewMetrics() // register with a prometheus.Registerer
	shared := ratelimit.NewLeasing(ratelimit.NewRedis(client), ratelimit.WithLeaseSize(10))
	store := ratelimit.NewFallback(shared, ratelimit.NewMemory(), ratelimit.FallbackLocal,
		ratelimit.WithTimeout(50*time.Millisecond), ratelimit.WithFallbackMetrics(metrics),
		// Three replicas: each keeps a third of the limit while Redis is away.
		ratelimit.WithLocalLimit(func(l ratelimit.Limit) ratelimit.Limit {
			l.Rate = max(l.Rate/3, 1)
			return l
		}))
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(ratelimit.UnaryServerInterceptor(store, ratelimit.WithMetrics(metrics))),
		grpc.ChainStreamInterceptor(ratelimit.StreamServerInterceptor(store, ratelimit.WithMetrics(metrics))),
	)
	defer srv.Stop()
}
