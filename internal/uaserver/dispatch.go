package uaserver

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gopcua/opcua/ua"
)

// maxWorkersPerChannel bounds the requests of one channel that run off its
// goroutine at once; more wait for a slot (back-pressure on that client only).
const maxWorkersPerChannel = 16

// run answers one request. Requests that may wait on a device or on the
// login throttle (Write, ActivateSession) run on a worker so the channel
// keeps reading: a slow device write never delays this or another client's
// Reads. Their responses may overtake later ones, which OPC UA allows
// (responses are matched by request id).
func (c *channel) run(ctx context.Context, reqID uint32, req ua.Request) {
	switch req.(type) {
	case *ua.WriteRequest, *ua.ActivateSessionRequest:
	default:
		if resp := c.srv.dispatch(ctx, c, reqID, req); resp != nil {
			c.send(reqID, resp)
		}
		return
	}
	select {
	case c.workers <- struct{}{}:
	case <-ctx.Done():
		return
	}
	c.inflight.Add(1)
	go func() {
		defer func() { <-c.workers; c.inflight.Done() }()
		if resp := c.srv.dispatch(ctx, c, reqID, req); resp != nil {
			c.send(reqID, resp)
		}
	}()
}

// dispatch runs one request under recover: a handler panic answers
// BadInternalError and logs, it never ends the process or the channel.
// A nil response means the answer comes later (Publish).
func (s *Server) dispatch(ctx context.Context, c *channel, reqID uint32, req ua.Request) (resp ua.Response) {
	defer func() {
		if r := recover(); r != nil {
			s.nPanic.Add(1)
			s.log.Error("opcua: handler panic", "service", typeName(req), "peer", c.peer, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = fault(req, ua.StatusBadInternalError)
		}
	}()
	return s.handle(ctx, c, reqID, req)
}

func (s *Server) handle(ctx context.Context, c *channel, reqID uint32, req ua.Request) ua.Response {
	if req.Header() == nil {
		return fault(req, ua.StatusBadDecodingError)
	}
	// Discovery and session management come without an activated session.
	switch r := req.(type) {
	case *ua.GetEndpointsRequest:
		return s.getEndpoints(r)
	case *ua.FindServersRequest:
		return s.findServers(r)
	}
	if c.discoveryOnly {
		return fault(req, ua.StatusBadSecurityPolicyRejected)
	}
	switch r := req.(type) {
	case *ua.CreateSessionRequest:
		return s.sessions.create(c, r)
	case *ua.ActivateSessionRequest:
		return s.sessions.activate(ctx, c, r)
	case *ua.CloseSessionRequest:
		return s.sessions.closeReq(c, r)
	}
	sess, st := s.sessions.lookup(c, req.Header().AuthenticationToken)
	if st != ua.StatusOK {
		return fault(req, st)
	}
	switch r := req.(type) {
	case *ua.CancelRequest:
		return &ua.CancelResponse{ResponseHeader: respHeader(r, ua.StatusOK)}
	case *ua.BrowseRequest:
		return s.browse(sess, r)
	case *ua.BrowseNextRequest:
		return s.browseNext(sess, r)
	case *ua.TranslateBrowsePathsToNodeIDsRequest:
		return s.translate(r)
	case *ua.RegisterNodesRequest:
		return s.registerNodes(r)
	case *ua.UnregisterNodesRequest:
		return &ua.UnregisterNodesResponse{ResponseHeader: respHeader(r, s.checkCount(len(r.NodesToUnregister), s.lim.MaxNodesPerRead))}
	case *ua.ReadRequest:
		return s.read(sess, r)
	case *ua.WriteRequest:
		return s.write(ctx, sess, r)
	case *ua.CreateSubscriptionRequest:
		return sess.createSubscription(r)
	case *ua.ModifySubscriptionRequest:
		return sess.modifySubscription(r)
	case *ua.DeleteSubscriptionsRequest:
		return sess.deleteSubscriptions(r)
	case *ua.SetPublishingModeRequest:
		return sess.setPublishingMode(r)
	case *ua.PublishRequest:
		return sess.publish(c, reqID, r)
	case *ua.RepublishRequest:
		return sess.republish(r)
	case *ua.TransferSubscriptionsRequest:
		return s.transferSubscriptions(sess, r)
	case *ua.CreateMonitoredItemsRequest:
		return sess.createMonitoredItems(r)
	case *ua.ModifyMonitoredItemsRequest:
		return sess.modifyMonitoredItems(r)
	case *ua.DeleteMonitoredItemsRequest:
		return sess.deleteMonitoredItems(r)
	case *ua.SetMonitoringModeRequest:
		return sess.setMonitoringMode(r)
	}
	return fault(req, ua.StatusBadServiceUnsupported)
}

// checkCount is the standard check of an operation list's length.
func (s *Server) checkCount(n int, max uint32) ua.StatusCode {
	switch {
	case n == 0:
		return ua.StatusBadNothingToDo
	case uint32(n) > max:
		return ua.StatusBadTooManyOperations
	}
	return ua.StatusOK
}

// respHeader fills every field: gopcua's encoder writes nothing for a nil
// pointer, which would corrupt the message.
func respHeader(req ua.Request, st ua.StatusCode) *ua.ResponseHeader {
	h := &ua.ResponseHeader{
		Timestamp: time.Now(), ServiceResult: st,
		ServiceDiagnostics: &ua.DiagnosticInfo{}, AdditionalHeader: ua.NewExtensionObject(nil),
	}
	if req != nil && req.Header() != nil {
		h.RequestHandle = req.Header().RequestHandle
	}
	return h
}

func fault(req ua.Request, st ua.StatusCode) ua.Response {
	return &ua.ServiceFault{ResponseHeader: respHeader(req, st)}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
