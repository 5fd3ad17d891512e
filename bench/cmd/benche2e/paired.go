package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// The rounds measure each target for seconds, one after the other, so a
// round's two sides of a ratio are tens of seconds apart; on a host whose
// speed drifts (other tenants, frequency) the per-round ratios spread
// widely. The paired phase measures each issue target's two sides back to
// back in short slices, alternating which goes first, so that drift slower
// than a slice falls on both alike, and reports the median and quartiles
// of the per-block ratios.

// pairKey names a pair in pairedPhase's result.
func pairKey(num, den string) string { return num + "÷" + den }

// pairSamples are one pair's per-block ratios of proxy CPU per request,
// and the totals over all blocks.
type pairSamples struct {
	ratios               []float64
	cpuNum, cpuDen       float64 // µs
	nNum, nDen           float64 // requests
	errors               int64
	firstErr             string
	foreign, foreignPeak float64 // other load over the phase, CPUs
}

// pairedPhase measures every pair of issueTargets whose targets are active,
// cfg.pairBlocks blocks each.
func pairedPhase(ctx context.Context, active []*target, cfg *config, stderr io.Writer) map[string]*pairSamples {
	out := map[string]*pairSamples{}
	if cfg.pairBlocks == 0 {
		return out
	}
	byName := map[string]*target{}
	for _, t := range active {
		byName[t.name] = t
	}
	for _, it := range issueTargets {
		num, den := byName[it.num], byName[it.den]
		if num == nil || den == nil || num.proxy == nil || den.proxy == nil {
			continue
		}
		fmt.Fprintf(stderr, "benche2e: paired %s ÷ %s, %d blocks of 2 × %v\n", num.name, den.name, cfg.pairBlocks, cfg.slice)
		ps := &pairSamples{}
		f0, start := foreignCPU(), time.Now()
		for b := range cfg.pairBlocks {
			if ctx.Err() != nil {
				break
			}
			waitQuiet(ctx, cfg.maxOther, 3*cfg.slice)
			first, second := num, den
			if b%2 == 1 {
				first, second = den, num
			}
			fa := foreignCPU()
			r1 := slice(ctx, first, cfg, ps)
			r2 := slice(ctx, second, cfg, ps)
			if load := (foreignCPU() - fa) / float64(2*cfg.slice.Microseconds()); load > ps.foreignPeak {
				ps.foreignPeak = load
			}
			if b%2 == 1 {
				r1, r2 = r2, r1
			}
			ps.cpuNum += r1.cpu
			ps.nNum += r1.n
			ps.cpuDen += r2.cpu
			ps.nDen += r2.n
			ps.ratios = append(ps.ratios, (r1.cpu/r1.n)/(r2.cpu/r2.n))
		}
		ps.foreign = max(0, (foreignCPU()-f0)/float64(time.Since(start).Microseconds()))
		out[pairKey(num.name, den.name)] = ps
	}
	return out
}

// sliceResult is one target's share of a block.
type sliceResult struct{ cpu, n float64 }

// slice runs the closed loop on t for cfg.slice and returns the CPU its
// proxy used and the requests it served.
func slice(ctx context.Context, t *target, cfg *config, ps *pairSamples) sliceResult {
	var errs errCount
	p0 := cpuOf(t.proxy)
	ok, _ := closedLoop(ctx, t.caller, cfg.stream, cfg.slice, &errs)
	p1 := cpuOf(t.proxy)
	ps.errors += errs.n.Load()
	if ps.firstErr == "" {
		ps.firstErr = errs.first
	}
	return sliceResult{cpu: p1 - p0, n: float64(ok + errs.n.Load())}
}

// quartiles returns the 25th and 75th percentiles of the values that are
// finite (linear interpolation); NaN when there are none.
func quartiles(xs []float64) (q1, q3 float64) {
	xs = slices.DeleteFunc(slices.Clone(xs), func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(xs)
	at := func(q float64) float64 {
		pos := q * float64(len(xs)-1)
		i := int(pos)
		if i+1 >= len(xs) {
			return xs[len(xs)-1]
		}
		return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
	}
	return at(0.25), at(0.75)
}
