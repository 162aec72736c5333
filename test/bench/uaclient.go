package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// connectUA opens a session with security None: as user (a write user)
// when user != "" and the server offers UserName tokens, else anonymous.
func connectUA(ctx context.Context, endpoint, user, pass string) (*opcua.Client, error) {
	opts := []opcua.Option{
		opcua.SecurityMode(ua.MessageSecurityModeNone),
		opcua.SecurityPolicy(ua.SecurityPolicyURINone),
		opcua.AutoReconnect(false),
		opcua.RequestTimeout(30 * time.Second),
		opcua.SessionTimeout(10 * time.Minute),
	}
	if user != "" {
		eps, err := opcua.GetEndpoints(ctx, endpoint)
		if err == nil {
			for _, ep := range eps {
				if ep.SecurityMode != ua.MessageSecurityModeNone {
					continue
				}
				for _, t := range ep.UserIdentityTokens {
					if t.TokenType == ua.UserTokenTypeUserName {
						opts = append(opts, opcua.AuthUsername(user, pass), opcua.SecurityFromEndpoint(ep, ua.UserTokenTypeUserName))
					}
				}
			}
		}
	}
	c, err := opcua.NewClient(endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("opc ua client %s: %w", endpoint, err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("opc ua connect %s: %w", endpoint, err)
	}
	return c, nil
}

// collector counts data-change notifications and matches each value (a
// clock sequence number) to the time its registers changed.
type collector struct {
	clock     *clock
	measuring atomic.Bool
	total     atomic.Int64 // every notification, warm-up included
	counted   atomic.Int64 // notifications while measuring
	bad       atomic.Int64 // notifications with a non-Good status while measuring

	mu  sync.Mutex
	lat []float64 // ms, while measuring
}

// maxLatencySamples bounds the memory of the latency log.
const maxLatencySamples = 4 << 20

func (k *collector) take(v *ua.DataValue, at time.Time) {
	k.total.Add(1)
	if !k.measuring.Load() {
		return
	}
	k.counted.Add(1)
	if v == nil || v.Status != ua.StatusOK || v.Value == nil {
		k.bad.Add(1)
		return
	}
	f, ok := v.Value.Value().(float32)
	if !ok || f < 0 || f != float32(math.Trunc(float64(f))) {
		return
	}
	changed, ok := k.clock.changed(uint32(f))
	if !ok {
		return
	}
	k.mu.Lock()
	if len(k.lat) < maxLatencySamples {
		k.lat = append(k.lat, float64(at.Sub(changed))/float64(time.Millisecond))
	}
	k.mu.Unlock()
}

func (k *collector) latencies() []float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]float64(nil), k.lat...)
}

// subscribeAll monitors nodes in subscriptions of at most perSub items at
// the given publishing interval; notifications go to k until ctx ends.
func subscribeAll(ctx context.Context, c *opcua.Client, nodes []*ua.NodeID, interval time.Duration, perSub int, k *collector) error {
	ch := make(chan *opcua.PublishNotificationData, 1024)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-ch:
				now := time.Now()
				if n == nil || n.Error != nil {
					continue
				}
				if dc, ok := n.Value.(*ua.DataChangeNotification); ok {
					for _, it := range dc.MonitoredItems {
						k.take(it.Value, now)
					}
				}
			}
		}
	}()
	const perCall = 1000
	handle := uint32(0)
	for i := 0; i < len(nodes); i += perSub {
		part := nodes[i:min(i+perSub, len(nodes))]
		sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: interval}, ch)
		if err != nil {
			return fmt.Errorf("subscribe (%d items so far): %w", i, err)
		}
		for j := 0; j < len(part); j += perCall {
			var reqs []*ua.MonitoredItemCreateRequest
			for _, id := range part[j:min(j+perCall, len(part))] {
				handle++
				r := opcua.NewMonitoredItemCreateRequestWithDefaults(id, ua.AttributeIDValue, handle)
				r.RequestedParameters.SamplingInterval = float64(interval / time.Millisecond)
				r.RequestedParameters.QueueSize = 1
				reqs = append(reqs, r)
			}
			res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...)
			if err != nil {
				return fmt.Errorf("create monitored items (%d so far): %w", i+j, err)
			}
			for x, r := range res.Results {
				if r.StatusCode != ua.StatusOK {
					return fmt.Errorf("monitored item %s: %v", reqs[x].ItemToMonitor.NodeID, r.StatusCode)
				}
			}
		}
	}
	return nil
}

// tagNodes returns the NodeIds of every generated tag.
func tagNodes(ns uint16, devs []genDevice, share float64) []*ua.NodeID {
	var out []*ua.NodeID
	for _, d := range devs {
		n := int(math.Ceil(float64(d.Tags) * share))
		for i := range min(n, d.Tags) {
			out = append(out, ua.NewStringNodeID(ns, d.Name+"/"+tagName(i)))
		}
	}
	return out
}

// writeOnce writes v to node and returns the status.
func writeOnce(ctx context.Context, c *opcua.Client, node *ua.NodeID, v float32) (ua.StatusCode, error) {
	res, err := c.Write(ctx, &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{
		NodeID: node, AttributeID: ua.AttributeIDValue,
		Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)},
	}}})
	if err != nil {
		return ua.StatusBad, err
	}
	if len(res.Results) != 1 {
		return ua.StatusBad, fmt.Errorf("write: %d results", len(res.Results))
	}
	return res.Results[0], nil
}
